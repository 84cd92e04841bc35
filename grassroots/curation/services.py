"""Writes for screening: stages, submissions, stage decisions, reports, suspension.

Product status never changes here directly: every move goes through grassroots.catalog.workflow,
which writes the audit row.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.catalog.models import Product, ProductRevision
from grassroots.catalog.workflow import (
    product_screening_changes_requested,
    product_screening_passed,
    product_screening_rejected,
    product_transition,
)
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.core.ratelimit import rate_limit_hit
from grassroots.core.text import clean_plain_text
from grassroots.core.uploads import CheckedFile, check_document
from grassroots.curation.models import Evidence, ProductReport, ScreeningStage, StageDecision, Submission

MAX_EVIDENCE_FILES = 10
MAX_NOTES = 5000
MAX_REPORT_DESCRIPTION = 2000
REPORTS_PER_HOUR = 10
STAGE_CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
MAX_STAGE_POSITION = 1_000_000  # the column is a 32-bit integer


def _require_curator(user: Any) -> None:
    if not (user is not None and user.is_authenticated and user.is_curator):
        raise PermissionDenied(_("Only curators may do this."), code="not_curator")


def _check_evidence(files: Sequence[UploadedFile], *, limit: int = MAX_EVIDENCE_FILES) -> list[tuple[str, CheckedFile]]:
    """Judge every file before anything is written, so a bad one leaves no trace."""
    if len(files) > limit:
        raise ValidationFailed(
            _("At most %(n)s evidence files.") % {"n": limit}, code="too_many_files", fields={"evidence": "too_many"}
        )
    return [(str(upload.name or "")[-120:], check_document(upload, field="evidence")) for upload in files]


@contextmanager
def _evidence_writer() -> Iterator[list[str]]:
    """Collects stored file names and deletes them if the surrounding transaction fails."""
    written: list[str] = []
    try:
        yield written
    except BaseException:
        storage = Evidence._meta.get_field("file").storage  # type: ignore[union-attr]
        for name in written:
            storage.delete(name)
        raise


def _save_evidence(
    checked: list[tuple[str, CheckedFile]],
    *,
    written: list[str],
    uploaded_by_id: int,
    decision: StageDecision | None = None,
    report: ProductReport | None = None,
) -> None:
    for original_name, file in checked:
        evidence = Evidence(
            decision=decision,
            report=report,
            file_kind=file.kind,
            original_name=clean_plain_text(original_name, max_length=120),
            uploaded_by_id=uploaded_by_id,
        )
        # Random names: the stored name must not leak or collide with the uploader's.
        evidence.file.save(f"{uuid.uuid4().hex}.{file.extension}", ContentFile(file.content), save=False)
        written.append(evidence.file.name or "")
        evidence.save()


# Stages --------------------------------------------------------------------------------------


def _stage_fields(*, name_en: str | None, name_zh: str | None, description: str | None) -> dict[str, str]:
    fields: dict[str, str] = {}
    if name_en is not None:
        fields["name_en"] = clean_plain_text(name_en, max_length=80)
        if not fields["name_en"]:
            raise ValidationFailed(_("The English name is required."), fields={"name_en": "required"})
    if name_zh is not None:
        fields["name_zh"] = clean_plain_text(name_zh, max_length=80)
    if description is not None:
        fields["description"] = clean_plain_text(description, max_length=1000)
    return fields


def stage_create(
    *, actor: Any, code: str, name_en: str, name_zh: str = "", description: str = "", position: int | None = None
) -> ScreeningStage:
    """A new active stage, last unless a position is given. Open submissions keep their plan."""
    _require_curator(actor)
    code = (code or "").strip().lower()
    if not STAGE_CODE_RE.match(code):
        raise ValidationFailed(
            _("The code must be 2-40 lower-case letters, digits or underscores, starting with a letter."),
            fields={"code": "invalid"},
        )
    fields = _stage_fields(name_en=name_en, name_zh=name_zh, description=description)
    if position is not None:
        _check_position(position)
    try:
        with transaction.atomic():
            if position is None:
                position = (ScreeningStage.objects.aggregate(m=Max("position"))["m"] or 0) + 10
            return ScreeningStage.objects.create(code=code, position=position, **fields)
    except IntegrityError:
        raise Conflict(_("A stage with this code exists."), code="stage_code_taken", fields={"code": "taken"}) from None


def _check_position(position: int) -> None:
    if position < 0:
        raise ValidationFailed(_("The position cannot be negative."), fields={"position": "negative"})
    if position > MAX_STAGE_POSITION:
        raise ValidationFailed(
            _("The position can be at most %(max)s.") % {"max": MAX_STAGE_POSITION}, fields={"position": "too_large"}
        )


def stage_update(
    *,
    actor: Any,
    stage: ScreeningStage,
    name_en: str | None = None,
    name_zh: str | None = None,
    description: str | None = None,
    position: int | None = None,
    is_active: bool | None = None,
) -> ScreeningStage:
    """Rename, move or (de)activate. The code never changes: frozen stage plans refer to it."""
    _require_curator(actor)
    fields: dict[str, Any] = _stage_fields(name_en=name_en, name_zh=name_zh, description=description)
    if position is not None:
        _check_position(position)
        fields["position"] = position
    with transaction.atomic():
        if is_active is not None:
            if not is_active and stage.is_active:
                others = ScreeningStage.objects.filter(is_active=True).exclude(pk=stage.pk).count()
                if others == 0:
                    raise Conflict(
                        _("At least one stage must stay active."),
                        code="last_active_stage",
                        fields={"is_active": "last"},
                    )
            fields["is_active"] = is_active
        if fields:
            ScreeningStage.objects.filter(pk=stage.pk).update(**fields)
    stage.refresh_from_db()
    return stage


def stage_move(*, actor: Any, stage: ScreeningStage, direction: str) -> ScreeningStage:
    """Swap places with the neighbouring stage ("up" or "down"), renumbering so positions stay distinct."""
    _require_curator(actor)
    if direction not in ("up", "down"):
        raise ValidationFailed(_("Direction must be up or down."), fields={"direction": "invalid"})
    with transaction.atomic():
        stages = list(ScreeningStage.objects.order_by("position", "id"))
        index = next(i for i, s in enumerate(stages) if s.pk == stage.pk)
        other = index - 1 if direction == "up" else index + 1
        if 0 <= other < len(stages):
            stages[index], stages[other] = stages[other], stages[index]
            for number, item in enumerate(stages, start=1):
                if item.position != number * 10:
                    ScreeningStage.objects.filter(pk=item.pk).update(position=number * 10)
    stage.refresh_from_db()
    return stage


# Submissions and decisions -------------------------------------------------------------------


def submission_open(
    *,
    product: Product,
    actor_id: int | None,
    reason: str = Submission.Reason.NEW,
    revision: ProductRevision | None = None,
) -> Submission:
    """Start a pass through every active stage, in order. One open submission per product."""
    if reason not in Submission.Reason.values:
        raise ValidationFailed(_("Unknown reason."), fields={"reason": "invalid"})
    if revision is not None and (revision.product_id != product.pk or revision.state != ProductRevision.State.PENDING):
        raise ValidationFailed(_("The revision is not pending for this product."), fields={"revision": "invalid"})
    stages = list(ScreeningStage.objects.filter(is_active=True).order_by("position", "id"))
    if not stages:
        raise ValidationFailed(_("No screening stages are configured."), code="no_stages")
    try:
        with transaction.atomic():
            if Submission.objects.filter(product=product, state=Submission.State.IN_REVIEW).exists():
                raise Conflict(_("This product is already in review."), code="already_in_review")
            product.refresh_from_db()
            if product.status != Product.Status.LISTED:
                action = "reopen" if product.status == Product.Status.SUSPENDED else "submit"
                product_transition(product=product, action=action, actor_id=actor_id)
            return Submission.objects.create(
                product=product,
                revision=revision,
                reason=reason,
                current_stage=stages[0],
                stage_plan=[stage.code for stage in stages],
                submitted_by_id=actor_id,
            )
    except IntegrityError:
        # Two openers raced past the check; the unique constraint let one through.
        raise Conflict(_("This product is already in review."), code="already_in_review") from None


def stage_decision_record(
    *,
    submission: Submission,
    stage_code: str,
    reviewer: Any,
    decision: str,
    notes: str,
    evidence: Sequence[UploadedFile] = (),
) -> StageDecision:
    """Decide the submission's current stage. Pass moves to the next stage of the frozen plan;
    the last pass approves the product. Only the current stage may be decided, once."""
    _require_curator(reviewer)
    if decision not in StageDecision.Decision.values:
        raise ValidationFailed(_("Unknown decision."), fields={"decision": "invalid"})
    notes = (notes or "").strip()
    if len(notes) > MAX_NOTES:
        raise ValidationFailed(_("The notes are too long."), fields={"notes": "too_long"})
    if decision != StageDecision.Decision.PASS and not notes:
        raise ValidationFailed(
            _("Say what is wrong: notes are required to request changes or reject."),
            code="notes_required",
            fields={"notes": "required"},
        )
    checked = _check_evidence(evidence)

    with _evidence_writer() as written, transaction.atomic():
        current = (
            Submission.objects.select_related("current_stage", "product", "revision").filter(pk=submission.pk).first()
        )
        if current is None:
            raise NotFound(_("No such submission."))
        if current.state != Submission.State.IN_REVIEW or current.current_stage is None:
            raise Conflict(_("This submission is closed."), code="submission_closed")
        stage = current.current_stage
        if stage.code != stage_code:
            raise Conflict(
                _("This submission is at stage %(stage)s; decide that stage first.") % {"stage": stage.name},
                code="stage_out_of_order",
                fields={"stage_code": stage.code},
            )
        plan = list(current.stage_plan)
        now = timezone.now()
        updates: dict[str, Any]
        position = plan.index(stage.code) if stage.code in plan else len(plan) - 1
        is_last = position >= len(plan) - 1
        if decision == StageDecision.Decision.PASS and not is_last:
            updates = {"current_stage": ScreeningStage.objects.get(code=plan[position + 1])}
        else:
            final_state = {
                StageDecision.Decision.PASS: Submission.State.APPROVED,
                StageDecision.Decision.REQUEST_CHANGES: Submission.State.CHANGES_REQUESTED,
                StageDecision.Decision.REJECT: Submission.State.REJECTED,
            }[StageDecision.Decision(decision)]
            updates = {"state": final_state, "decided_at": now}
        # The guard: only one reviewer can move the submission off this stage.
        moved = Submission.objects.filter(
            pk=current.pk, state=Submission.State.IN_REVIEW, current_stage_id=stage.pk
        ).update(**updates)
        if moved != 1:
            raise Conflict(_("Another curator decided this stage a moment ago."), code="stage_out_of_order", fields={})
        recorded = StageDecision.objects.create(
            submission=current, stage=stage, reviewer=reviewer, decision=decision, notes=notes
        )
        _save_evidence(checked, written=written, uploaded_by_id=reviewer.pk, decision=recorded)

        product = current.product
        if decision == StageDecision.Decision.PASS and is_last:
            product_screening_passed(product=product, revision=current.revision, stage_codes=plan, actor_id=reviewer.pk)
        elif decision == StageDecision.Decision.REQUEST_CHANGES:
            product_screening_changes_requested(
                product=product, revision=current.revision, actor_id=reviewer.pk, note=notes
            )
        elif decision == StageDecision.Decision.REJECT:
            product_screening_rejected(product=product, revision=current.revision, actor_id=reviewer.pk, note=notes)
            if current.revision is None:
                # The product itself was turned down: reports against it were right.
                _reports_close(product=product, actor=reviewer, state=ProductReport.State.ACTIONED, resolution=notes)
    submission.refresh_from_db()
    return recorded


# Reports -------------------------------------------------------------------------------------


def product_report_create(
    *, reporter: Any, product: Product, kind: str, description: str, evidence: Sequence[UploadedFile] = ()
) -> ProductReport:
    """Anyone signed in may report a listed product. It stays listed; screening reopens."""
    if reporter is None or not reporter.is_authenticated:
        raise PermissionDenied(_("Sign in to report a product."), code="not_signed_in")
    if not Product.objects.filter(pk=product.pk, is_listed=True).exists():
        raise NotFound(_("No such product."))
    rate_limit_hit(scope="product_report", key=str(reporter.pk), limit=REPORTS_PER_HOUR, window_seconds=3600)
    if kind not in ProductReport.Kind.values:
        raise ValidationFailed(_("Choose what is wrong."), fields={"kind": "invalid"})
    description = (description or "").strip()
    if not description:
        raise ValidationFailed(_("Describe the problem."), fields={"description": "required"})
    if len(description) > MAX_REPORT_DESCRIPTION:
        raise ValidationFailed(_("The description is too long."), fields={"description": "too_long"})
    checked = _check_evidence(evidence, limit=5)

    with _evidence_writer() as written, transaction.atomic():
        if ProductReport.objects.filter(product=product, reporter=reporter, state=ProductReport.State.OPEN).exists():
            raise Conflict(_("You already reported this product; a curator is on it."), code="already_reported")
        open_submission = Submission.objects.filter(product=product, state=Submission.State.IN_REVIEW).first()
        if open_submission is None:
            try:
                open_submission = submission_open(
                    product=product, actor_id=reporter.pk, reason=Submission.Reason.REPORT
                )
            except Conflict:
                # A concurrent report opened it first.
                open_submission = Submission.objects.get(product=product, state=Submission.State.IN_REVIEW)
        report = ProductReport.objects.create(
            product=product, reporter=reporter, kind=kind, description=description, submission=open_submission
        )
        _save_evidence(checked, written=written, uploaded_by_id=reporter.pk, report=report)
    return report


def report_resolve(*, report: ProductReport, actor: Any, outcome: str, resolution: str) -> ProductReport:
    _require_curator(actor)
    if outcome not in (ProductReport.State.DISMISSED, ProductReport.State.ACTIONED):
        raise ValidationFailed(_("The outcome must be dismissed or actioned."), fields={"outcome": "invalid"})
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValidationFailed(_("Say how the report was resolved."), fields={"resolution": "required"})
    if len(resolution) > MAX_NOTES:
        raise ValidationFailed(_("The resolution is too long."), fields={"resolution": "too_long"})
    changed = ProductReport.objects.filter(pk=report.pk, state=ProductReport.State.OPEN).update(
        state=outcome, handled_by=actor, handled_at=timezone.now(), resolution=resolution
    )
    if changed != 1:
        raise Conflict(_("This report is already resolved."), code="report_closed")
    report.refresh_from_db()
    return report


def _reports_close(*, product: Product, actor: Any, state: str, resolution: str) -> int:
    return ProductReport.objects.filter(product=product, state=ProductReport.State.OPEN).update(
        state=state, handled_by=actor, handled_at=timezone.now(), resolution=resolution
    )


# Suspension ----------------------------------------------------------------------------------


def product_suspend(*, product: Product, actor: Any, reason: str) -> Product:
    """Delist at once. Any open review is withdrawn and open reports are marked actioned."""
    _require_curator(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(_("Give the reason for the suspension."), fields={"reason": "required"})
    if len(reason) > MAX_NOTES:
        raise ValidationFailed(_("The reason is too long."), fields={"reason": "too_long"})
    with transaction.atomic():
        product_transition(product=product, action="suspend", actor_id=actor.pk, note=reason)
        Submission.objects.filter(product=product, state=Submission.State.IN_REVIEW).update(
            state=Submission.State.WITHDRAWN, decided_at=timezone.now()
        )
        _reports_close(product=product, actor=actor, state=ProductReport.State.ACTIONED, resolution=reason)
    return product


def product_reinstate(*, product: Product, actor: Any) -> Submission:
    """A suspended product returns only through every stage again."""
    _require_curator(actor)
    product.refresh_from_db()
    if product.status != Product.Status.SUSPENDED:
        raise Conflict(_("Only a suspended product can be reinstated."), code="not_suspended")
    return submission_open(product=product, actor_id=actor.pk, reason=Submission.Reason.REINSTATE)
