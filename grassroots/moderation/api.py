"""Moderation API: members report notes, comments, messages and people and list their own reports;
curators read the queue and a target's history and decide."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema

from grassroots.core.api_schemas import Id, error_responses
from grassroots.core.conf import gr_setting
from grassroots.core.pagination import paginate
from grassroots.moderation import selectors, services
from grassroots.moderation.models import DETAILS_MAX_LENGTH, REASON_MAX_LENGTH, ModerationAction, Report

router = Router(tags=["moderation"])

Kind = Literal["note", "comment", "message", "user"]


ERRORS = error_responses(400, 403, 404, 409, 422, 429)


class ReportIn(Schema):
    target_kind: Kind
    target_id: int = Field(..., ge=1)
    reason: str
    details: str = Field("", max_length=DETAILS_MAX_LENGTH)


class ReportOut(Schema):
    id: int
    target_kind: str
    target_id: int
    reason: str
    details: str
    status: str
    created_at: datetime
    handled_at: datetime | None
    resolution: str


class ReportPage(Schema):
    items: list[ReportOut]
    next_cursor: str | None


class ReasonCountOut(Schema):
    reason: str
    label: str
    count: int


class PreviewOut(Schema):
    exists: bool
    title: str
    text: str
    author_id: int | None
    author_handle: str
    author_name: str
    state: str
    moderation_reason: str
    url: str
    context: str


class QueueItemOut(Schema):
    target_kind: str
    target_id: int
    report_count: int
    first_reported_at: datetime
    last_reported_at: datetime
    reasons: list[ReasonCountOut]
    latest_details: str
    preview: PreviewOut


class QueuePage(Schema):
    items: list[QueueItemOut]
    next_cursor: str | None


class DecisionIn(Schema):
    action: Literal["hide", "remove", "restore", "suspend", "dismiss"]
    reason: str = Field("", max_length=REASON_MAX_LENGTH)
    report_ids: list[Id] | None = None
    target_kind: Kind | None = None
    target_id: int | None = None


class ActionOut(Schema):
    id: int
    target_kind: str
    target_id: int
    action: str
    reason: str
    moderator_id: int | None
    reports_closed: int
    created_at: datetime


class HistoryReportOut(ReportOut):
    reporter_id: int
    handled_by_id: int | None


class HistoryOut(Schema):
    target_kind: str
    target_id: int
    preview: PreviewOut
    open_reports: int
    reports: list[HistoryReportOut]
    actions: list[ActionOut]


def _report_out(report: Report) -> dict[str, Any]:
    return {
        "id": report.pk,
        "target_kind": report.target_kind,
        "target_id": report.target_id,
        "reason": report.reason,
        "details": report.details,
        "status": report.status,
        "created_at": report.created_at,
        "handled_at": report.handled_at,
        "resolution": report.resolution,
    }


def _action_out(action: ModerationAction) -> ActionOut:
    return ActionOut(
        id=action.pk,
        target_kind=action.target_kind,
        target_id=action.target_id,
        action=action.action,
        reason=action.reason,
        moderator_id=action.moderator_id,
        reports_closed=action.reports_closed,
        created_at=action.created_at,
    )


def _preview_out(preview: selectors.TargetPreview) -> PreviewOut:
    return PreviewOut(
        exists=preview.exists,
        title=preview.title,
        text=preview.text,
        author_id=preview.author_id,
        author_handle=preview.author_handle,
        author_name=preview.author_name,
        state=preview.state,
        moderation_reason=preview.moderation_reason,
        url=preview.url,
        context=preview.context,
    )


def _limit(limit: int | None) -> int:
    return int(gr_setting("API_PAGE_SIZE")) if limit is None else limit


@router.post("/reports", response={200: ReportOut, 201: ReportOut, **ERRORS})
def create_report(request: HttpRequest, payload: ReportIn) -> tuple[int, ReportOut]:
    """Report a note, comment, message (only in your own conversations) or member. `reason` is one of
    spam, counterfeit, harassment, undisclosed_ad, inappropriate, other. 201 for a new report; 200
    with your earlier report when it is still open. Own content is a 422; over REPORTS_PER_HOUR a 429."""
    report, created = services.report_create(
        reporter=request.user,
        target_kind=payload.target_kind,
        target_id=payload.target_id,
        reason=payload.reason,
        details=payload.details,
    )
    return (201 if created else 200), ReportOut(**_report_out(report))


@router.get("/reports/mine", response={200: ReportPage, **ERRORS})
def my_reports(request: HttpRequest, cursor: str | None = None, limit: int | None = None) -> ReportPage:
    """Reports I made, newest first, with their status and the curator's resolution."""
    reports, next_cursor = paginate(
        selectors.reports_by_reporter(reporter_id=request.user.pk), cursor=cursor, limit=_limit(limit), order=("-id",)
    )
    return ReportPage(items=[ReportOut(**_report_out(report)) for report in reports], next_cursor=next_cursor)


@router.get("/queue", response={200: QueuePage, **ERRORS})
def queue(
    request: HttpRequest, kind: Kind | None = None, cursor: str | None = None, limit: int | None = None
) -> QueuePage:
    """Curators: targets with open reports, the one waiting longest first, with counts, reasons and a preview."""
    items, next_cursor = selectors.moderation_queue(viewer=request.user, kind=kind, cursor=cursor, limit=_limit(limit))
    return QueuePage(
        items=[
            QueueItemOut(
                target_kind=item.kind,
                target_id=item.id,
                report_count=item.report_count,
                first_reported_at=item.first_reported_at,
                last_reported_at=item.last_reported_at,
                reasons=[ReasonCountOut(reason=r.reason, label=r.label, count=r.count) for r in item.reasons],
                latest_details=item.latest.details if item.latest else "",
                preview=_preview_out(item.preview) if item.preview else PreviewOut(**_EMPTY_PREVIEW),
            )
            for item in items
        ],
        next_cursor=next_cursor,
    )


_EMPTY_PREVIEW: dict[str, Any] = {
    "exists": False,
    "title": "",
    "text": "",
    "author_id": None,
    "author_handle": "",
    "author_name": "",
    "state": "",
    "moderation_reason": "",
    "url": "",
    "context": "",
}


@router.get("/targets/{kind}/{target_id}", response={200: HistoryOut, **ERRORS})
def target_history(request: HttpRequest, kind: Kind, target_id: int) -> HistoryOut:
    """Curators: one target's preview, every report on it and every decision, newest first."""
    history = selectors.moderation_target_history(viewer=request.user, kind=kind, target_id=target_id)
    return HistoryOut(
        target_kind=kind,
        target_id=target_id,
        preview=_preview_out(history.preview),
        open_reports=history.open_count,
        reports=[
            HistoryReportOut(**_report_out(r), reporter_id=r.reporter_id, handled_by_id=r.handled_by_id)
            for r in history.reports
        ],
        actions=[_action_out(a) for a in history.actions],
    )


@router.post("/decisions", response={201: ActionOut, **ERRORS})
def decide(request: HttpRequest, payload: DecisionIn) -> tuple[int, ActionOut]:
    """Curators: decide on a target, named by `target_kind` + `target_id` or by `report_ids`.
    hide / remove / restore for notes, comments and messages; suspend / restore for members;
    dismiss closes the open reports without action. `reason` is required for hide, remove and
    suspend, and the author sees it."""
    decision = services.moderation_decide(
        moderator=request.user,
        action=payload.action,
        reason=payload.reason,
        report_ids=payload.report_ids,
        target_kind=payload.target_kind,
        target_id=payload.target_id,
    )
    return 201, _action_out(decision.action)
