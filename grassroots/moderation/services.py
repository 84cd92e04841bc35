"""Writes for moderation: members report, curators decide.

A decision is carried out by the app that owns the content (notes, interactions, messaging,
social), which sets the state and reason, keeps counters exact and tells the author why; this app
closes the open reports on the target and records the decision, all in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.core.conf import gr_setting
from grassroots.core.errors import Conflict, NotFound, ValidationFailed
from grassroots.core.ratelimit import rate_limit_hit
from grassroots.moderation.models import (
    DETAILS_MAX_LENGTH,
    REASON_MAX_LENGTH,
    ModerationAction,
    Report,
    TargetKind,
)
from grassroots.moderation.selectors import (
    ensure_curator,
    moderation_report_target,
    moderation_target_exists,
    open_reports_on,
)

Action = ModerationAction.Action

# Which decisions apply to which kind of target.
ACTIONS_BY_KIND: dict[str, tuple[str, ...]] = {
    TargetKind.NOTE: (Action.HIDE, Action.REMOVE, Action.RESTORE, Action.DISMISS),
    TargetKind.COMMENT: (Action.HIDE, Action.REMOVE, Action.RESTORE, Action.DISMISS),
    TargetKind.MESSAGE: (Action.HIDE, Action.REMOVE, Action.RESTORE, Action.DISMISS),
    TargetKind.USER: (Action.SUSPEND, Action.RESTORE, Action.DISMISS),
}
REASON_REQUIRED = {Action.HIDE, Action.REMOVE, Action.SUSPEND}


def _clean_text(value: str) -> str:
    return "".join(ch for ch in (value or "") if ch in "\n\t" or ch.isprintable()).strip()


# Reports ---------------------------------------------------------------------------------------


def report_create(
    *, reporter: Any, target_kind: str, target_id: int, reason: str, details: str = ""
) -> tuple[Report, bool]:
    """Report a note, comment, message or member. Returns (report, created): a repeat while the
    reporter's earlier report on the same target is still open returns that one.

    The target must exist and be visible to the reporter (messages: only in the reporter's own
    conversations; otherwise NotFound). Reporting oneself or one's own content is refused (422).
    Limited to REPORTS_PER_HOUR new reports per member (429).
    """
    if reason not in Report.Reason.values:
        raise ValidationFailed(_("Choose a reason."), code="invalid_reason", fields={"reason": "invalid"})
    details = _clean_text(details)
    if len(details) > DETAILS_MAX_LENGTH:
        raise ValidationFailed(
            _("Details can have at most %(max)s characters.") % {"max": DETAILS_MAX_LENGTH},
            code="too_long",
            fields={"details": "too_long"},
        )
    target = moderation_report_target(reporter=reporter, kind=target_kind, target_id=target_id)
    if target.is_own:
        message = (
            _("You cannot report yourself.")
            if target.kind == TargetKind.USER
            else _("You cannot report your own content.")
        )
        raise ValidationFailed(message, code="own_content", fields={"target_id": "own"})
    existing = open_reports_on(kind=target.kind, target_id=target.id).filter(reporter_id=reporter.pk).first()
    if existing is not None:
        return existing, False
    rate_limit_hit(
        scope="reports", key=str(reporter.pk), limit=int(gr_setting("REPORTS_PER_HOUR")), window_seconds=3600
    )
    try:
        with transaction.atomic():
            report = Report.objects.create(
                reporter=reporter,
                target_kind=target.kind,
                target_id=target.id,
                target_owner_id=target.owner_id,
                reason=reason,
                details=details,
            )
    except IntegrityError:  # the same member reported the same target at the same moment
        existing = open_reports_on(kind=target.kind, target_id=target.id).filter(reporter_id=reporter.pk).first()
        if existing is None:
            raise
        return existing, False
    return report, True


# Decisions -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Decision:
    action: ModerationAction
    reports_closed: int


def _owner_call(kind: str) -> Callable[..., Any]:
    """The owning app's moderation function for this kind of target, as `call(target_id, action, reason, moderator)`."""
    if kind == TargetKind.NOTE:
        from grassroots.notes.services import note_moderate

        return lambda target_id, action, reason, moderator: note_moderate(
            note_id=target_id, action=action, reason=reason, moderator=moderator
        )
    if kind == TargetKind.COMMENT:
        from grassroots.interactions.services import comment_moderate

        return lambda target_id, action, reason, moderator: comment_moderate(
            comment_id=target_id, action=action, reason=reason, moderator=moderator
        )
    if kind == TargetKind.MESSAGE:
        from grassroots.messaging.services import message_moderate

        return lambda target_id, action, reason, moderator: message_moderate(
            message_id=target_id, action=action, reason=reason, moderator=moderator
        )
    from grassroots.social.services import user_moderate

    return lambda target_id, action, reason, moderator: user_moderate(
        user_id=target_id, action=action, reason=reason, moderator=moderator
    )


def _target_from_reports(report_ids: Sequence[int]) -> tuple[str, int]:
    targets = set(Report.objects.filter(pk__in=list(report_ids)).values_list("target_kind", "target_id"))
    if not targets:
        raise NotFound(_("Report not found."))
    if len(targets) > 1 or Report.objects.filter(pk__in=list(report_ids)).count() != len(set(report_ids)):
        raise ValidationFailed(
            _("Decide on the reports of one target at a time."),
            code="mixed_targets",
            fields={"report_ids": "mixed" if len(targets) > 1 else "not_found"},
        )
    kind, target_id = targets.pop()
    return kind, target_id


def moderation_decide(
    *,
    moderator: Any,
    action: str,
    reason: str = "",
    report_ids: Sequence[int] | None = None,
    target_kind: str | None = None,
    target_id: int | None = None,
) -> Decision:
    """A curator's decision on a target, named directly or by some of its reports.

    hide / remove / restore (notes, comments, messages), suspend / restore (members) are carried
    out by the owning app, which tells the author the reason; every open report on the target is
    closed as actioned (restore: dismissed) with the reason as resolution. dismiss only closes the
    open reports. One ModerationAction row records the decision. A reason is required for hide,
    remove and suspend.
    """
    ensure_curator(moderator)
    if report_ids:
        kind, resolved_id = _target_from_reports(report_ids)
        if (target_kind and target_kind != kind) or (target_id is not None and target_id != resolved_id):
            raise ValidationFailed(
                _("The reports are about another target."), code="mixed_targets", fields={"report_ids": "mixed"}
            )
    elif target_kind and target_id is not None:
        if target_kind not in TargetKind.values:
            raise ValidationFailed(
                _("Choose a note, comment, message or person."),
                code="invalid_kind",
                fields={"target_kind": "invalid"},
            )
        kind, resolved_id = target_kind, target_id
    else:
        raise ValidationFailed(
            _("Name the target or its reports."), code="no_target", fields={"report_ids": "required"}
        )
    if action not in ACTIONS_BY_KIND[kind]:
        raise ValidationFailed(
            _("This action does not apply to this kind of target."),
            code="invalid_action",
            fields={"action": "invalid"},
        )
    reason = _clean_text(reason)
    if action in REASON_REQUIRED and not reason:
        raise ValidationFailed(
            _("Give the reason; the author will see it."), code="reason_required", fields={"reason": "required"}
        )
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationFailed(
            _("The reason can have at most %(max)s characters.") % {"max": REASON_MAX_LENGTH},
            code="too_long",
            fields={"reason": "too_long"},
        )
    if not moderation_target_exists(kind=kind, target_id=resolved_id) and action != Action.DISMISS:
        raise NotFound(_("Nothing to moderate here."))

    now = timezone.now()
    with transaction.atomic():
        # Lock the open reports so two curators deciding at once close each report once.
        open_ids = list(
            open_reports_on(kind=kind, target_id=resolved_id).select_for_update().values_list("pk", flat=True)
        )
        if action == Action.DISMISS:
            if not open_ids:
                raise Conflict(_("There are no open reports to dismiss."), code="no_open_reports")
        else:
            _owner_call(kind)(resolved_id, action, reason, moderator)
        status = Report.Status.ACTIONED if action in REASON_REQUIRED else Report.Status.DISMISSED
        reporter_ids = sorted(
            set(Report.objects.filter(pk__in=open_ids, status=Report.Status.OPEN).values_list("reporter_id", flat=True))
        )
        closed = Report.objects.filter(pk__in=open_ids, status=Report.Status.OPEN).update(
            status=status, handled_by=moderator, handled_at=now, resolution=reason
        )
        record = ModerationAction.objects.create(
            moderator=moderator,
            target_kind=kind,
            target_id=resolved_id,
            action=action,
            reason=reason,
            reports_closed=closed,
            created_at=now,
        )
        transaction.on_commit(partial(_tell_reporters, record=record, reporter_ids=reporter_ids))
    return Decision(action=record, reports_closed=closed)


def _tell_reporters(*, record: ModerationAction, reporter_ids: Sequence[int]) -> None:
    """Each member whose open report this decision closed hears the outcome once (not the reason,
    which is for the author)."""
    from grassroots.notifications.models import NotificationKind
    from grassroots.notifications.services import notification_send

    for reporter_id in reporter_ids:
        notification_send(
            recipient_id=reporter_id,
            kind=NotificationKind.REPORT_OUTCOME,
            data={"target_kind": record.target_kind, "action": record.action},
            dedupe_key=f"report-outcome:{record.pk}:{reporter_id}",
        )
