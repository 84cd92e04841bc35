"""Screening API: stages, submissions and decisions (curators), reports (anyone signed in)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Router, Schema, UploadedFile

from grassroots.catalog.models import Product
from grassroots.core.api_schemas import ErrorOut, error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.errors import PermissionDenied
from grassroots.core.pagination import paginate
from grassroots.curation import selectors, services
from grassroots.curation.models import Evidence, ProductReport, ScreeningStage, StageDecision, Submission
from grassroots.curation.views import evidence_response

router = Router(tags=["curation"])


def _curator(request: HttpRequest) -> Any:
    user = request.user
    if not user.is_curator:  # type: ignore[union-attr]
        raise PermissionDenied(_("Only curators may do this."), code="not_curator")
    return user


class StageOut(Schema):
    id: int
    code: str
    name: str
    name_en: str
    name_zh: str
    description: str
    position: int
    is_active: bool


class StageIn(Schema):
    code: str = Field(..., max_length=40)
    name_en: str = Field(..., max_length=80)
    name_zh: str = Field("", max_length=80)
    description: str = Field("", max_length=1000)
    position: int | None = Field(None, ge=0)


class StagePatch(Schema):
    name_en: str | None = Field(None, max_length=80)
    name_zh: str | None = Field(None, max_length=80)
    description: str | None = Field(None, max_length=1000)
    position: int | None = Field(None, ge=0)
    is_active: bool | None = None


class EvidenceOut(Schema):
    id: int
    file_kind: str
    name: str
    url: str

    @staticmethod
    def from_evidence(evidence: Evidence) -> EvidenceOut:
        return EvidenceOut(
            id=evidence.pk,
            file_kind=evidence.file_kind,
            name=evidence.display_name,
            url=reverse("curation:evidence", args=[evidence.pk]),
        )


class DecisionOut(Schema):
    id: int
    stage: str
    decision: str
    notes: str
    reviewer_id: int
    reviewer_name: str
    created_at: datetime
    evidence: list[EvidenceOut]

    @staticmethod
    def from_decision(decision: StageDecision) -> DecisionOut:
        return DecisionOut(
            id=decision.pk,
            stage=decision.stage.code,
            decision=decision.decision,
            notes=decision.notes,
            reviewer_id=decision.reviewer_id,
            reviewer_name=str(decision.reviewer),
            created_at=decision.created_at,
            evidence=[EvidenceOut.from_evidence(e) for e in decision.evidence.all()],
        )


class SubmissionOut(Schema):
    id: int
    product_id: int
    product_title: str
    product_status: str
    merchant_id: int
    merchant_name: str
    revision_id: int | None
    reason: str
    state: str
    current_stage: str | None
    stage_plan: list[str]
    created_at: datetime
    decided_at: datetime | None

    @staticmethod
    def from_submission(submission: Submission) -> SubmissionOut:
        product = submission.product
        return SubmissionOut(
            id=submission.pk,
            product_id=product.pk,
            product_title=product.title,
            product_status=product.status,
            merchant_id=product.merchant_id,
            merchant_name=product.merchant.name,
            revision_id=submission.revision_id,
            reason=submission.reason,
            state=submission.state,
            current_stage=submission.current_stage.code if submission.current_stage else None,
            stage_plan=list(submission.stage_plan),
            created_at=submission.created_at,
            decided_at=submission.decided_at,
        )


class SubmissionDetailOut(SubmissionOut):
    decisions: list[DecisionOut]

    @staticmethod
    def from_detail(submission: Submission) -> SubmissionDetailOut:
        base = SubmissionOut.from_submission(submission)
        return SubmissionDetailOut(
            **base.model_dump(), decisions=[DecisionOut.from_decision(d) for d in submission.decisions.all()]
        )


class SubmissionPage(Schema):
    items: list[SubmissionOut]
    next_cursor: str | None


class ReportOut(Schema):
    id: int
    product_id: int
    kind: str
    description: str
    state: str
    submission_id: int | None
    resolution: str
    created_at: datetime
    handled_at: datetime | None
    evidence: list[EvidenceOut]

    @staticmethod
    def from_report(report: ProductReport) -> ReportOut:
        return ReportOut(
            id=report.pk,
            product_id=report.product_id,
            kind=report.kind,
            description=report.description,
            state=report.state,
            submission_id=report.submission_id,
            resolution=report.resolution,
            created_at=report.created_at,
            handled_at=report.handled_at,
            evidence=[EvidenceOut.from_evidence(e) for e in report.evidence.all()],
        )


class ReportPage(Schema):
    items: list[ReportOut]
    next_cursor: str | None


class ResolveIn(Schema):
    outcome: Literal["dismissed", "actioned"]
    resolution: str = Field(..., max_length=5000)


class SuspendIn(Schema):
    reason: str = Field(..., max_length=5000)


class ProductStatusOut(Schema):
    id: int
    status: str
    is_listed: bool
    submission_id: int | None = None


ERRORS = error_responses(403, 404, 409, 422, 429)


# Stages -------------------------------------------------------------------------------------


@router.get("/stages", response=list[StageOut])
def list_stages(request: HttpRequest) -> list[ScreeningStage]:
    """Every stage in order; any signed-in user may read them (the product page names them)."""
    return selectors.stage_list()


@router.post("/stages", response={201: StageOut, **ERRORS})
def create_stage(request: HttpRequest, payload: StageIn) -> tuple[int, ScreeningStage]:
    stage = services.stage_create(actor=_curator(request), **payload.dict())
    return 201, stage


@router.patch("/stages/{stage_id}", response={200: StageOut, **ERRORS})
def update_stage(request: HttpRequest, stage_id: int, payload: StagePatch) -> ScreeningStage:
    actor = _curator(request)
    stage = get_object_or_404(ScreeningStage, pk=stage_id)
    return services.stage_update(actor=actor, stage=stage, **payload.dict(exclude_unset=True))


# Submissions ----------------------------------------------------------------------------------


@router.get("/submissions", response={200: SubmissionPage, **ERRORS})
def list_submissions(
    request: HttpRequest,
    stage: str | None = None,
    state: Literal["in_review", "changes_requested", "rejected", "approved", "withdrawn"] | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> SubmissionPage:
    """Queues: with `stage` and `state=in_review`, oldest first (the order curators work in)."""
    _curator(request)
    queryset = selectors.submission_list(stage_code=stage, state=state)
    items, next_cursor = paginate(
        queryset, cursor=cursor, limit=limit or gr_setting("API_PAGE_SIZE"), order=("created_at", "id")
    )
    return SubmissionPage(items=[SubmissionOut.from_submission(s) for s in items], next_cursor=next_cursor)


@router.get("/submissions/{submission_id}", response={200: SubmissionDetailOut, **ERRORS})
def get_submission(request: HttpRequest, submission_id: int) -> SubmissionDetailOut:
    _curator(request)
    return SubmissionDetailOut.from_detail(selectors.submission_detail(submission_id=submission_id))


@router.post("/submissions/{submission_id}/decisions", response={201: SubmissionDetailOut, **ERRORS})
def decide_submission(
    request: HttpRequest,
    submission_id: int,
    stage_code: Form[str],
    decision: Form[Literal["pass", "request_changes", "reject"]],
    notes: Form[str] = "",
    evidence: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> tuple[int, SubmissionDetailOut]:
    """Decide the submission's current stage (multipart). A decision for any other stage is 409."""
    reviewer = _curator(request)
    submission = get_object_or_404(Submission, pk=submission_id)
    services.stage_decision_record(
        submission=submission,
        stage_code=stage_code,
        reviewer=reviewer,
        decision=decision,
        notes=notes,
        evidence=evidence or [],
    )
    return 201, SubmissionDetailOut.from_detail(selectors.submission_detail(submission_id=submission.pk))


# Reports --------------------------------------------------------------------------------------


@router.post("/reports", response={201: ReportOut, **ERRORS})
def create_report(
    request: HttpRequest,
    product_id: Form[int],
    kind: Form[Literal["counterfeit", "quality", "other"]],
    description: Form[str],
    evidence: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> tuple[int, ReportOut]:
    """Report a listed product. It stays listed while curators re-review it."""
    product = get_object_or_404(Product, pk=product_id, is_listed=True)
    report = services.product_report_create(
        reporter=request.user, product=product, kind=kind, description=description, evidence=evidence or []
    )
    return 201, ReportOut.from_report(selectors.report_get_for(user=request.user, report_id=report.pk))


@router.get("/reports", response={200: ReportPage, **ERRORS})
def list_reports(
    request: HttpRequest,
    state: Literal["open", "dismissed", "actioned"] | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> ReportPage:
    """Curators see every report; anyone else sees their own. Newest first."""
    queryset = selectors.report_list_for(user=request.user, state=state)
    items, next_cursor = paginate(queryset, cursor=cursor, limit=limit or gr_setting("API_PAGE_SIZE"), order=("-id",))
    return ReportPage(items=[ReportOut.from_report(r) for r in items], next_cursor=next_cursor)


@router.get("/reports/{report_id}", response={200: ReportOut, **ERRORS})
def get_report(request: HttpRequest, report_id: int) -> ReportOut:
    return ReportOut.from_report(selectors.report_get_for(user=request.user, report_id=report_id))


@router.post("/reports/{report_id}/resolve", response={200: ReportOut, **ERRORS})
def resolve_report(request: HttpRequest, report_id: int, payload: ResolveIn) -> ReportOut:
    actor = _curator(request)
    report = get_object_or_404(ProductReport, pk=report_id)
    services.report_resolve(report=report, actor=actor, outcome=payload.outcome, resolution=payload.resolution)
    return ReportOut.from_report(selectors.report_get_for(user=actor, report_id=report.pk))


# Products -------------------------------------------------------------------------------------


@router.post("/products/{product_id}/suspend", response={200: ProductStatusOut, **ERRORS})
def suspend_product(request: HttpRequest, product_id: int, payload: SuspendIn) -> ProductStatusOut:
    """Delist at once; open reviews are withdrawn and open reports marked actioned."""
    actor = _curator(request)
    product = get_object_or_404(Product, pk=product_id)
    product = services.product_suspend(product=product, actor=actor, reason=payload.reason)
    return ProductStatusOut(id=product.pk, status=product.status, is_listed=product.is_listed)


@router.post("/products/{product_id}/reinstate", response={201: ProductStatusOut, **ERRORS})
def reinstate_product(request: HttpRequest, product_id: int) -> tuple[int, ProductStatusOut]:
    """A suspended product goes back through every stage; it is not listed until they pass."""
    actor = _curator(request)
    product = get_object_or_404(Product, pk=product_id)
    submission = services.product_reinstate(product=product, actor=actor)
    product.refresh_from_db()
    return 201, ProductStatusOut(
        id=product.pk, status=product.status, is_listed=product.is_listed, submission_id=submission.pk
    )


@router.get("/evidence/{evidence_id}", response={200: None, 404: ErrorOut})
def download_evidence(request: HttpRequest, evidence_id: int) -> FileResponse:
    """The file itself: for curators, and for the reporter of the report it backs."""
    evidence = selectors.evidence_get_for(user=request.user, evidence_id=evidence_id)
    return evidence_response(evidence)
