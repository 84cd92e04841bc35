"""Reads for moderation: what a member may report, the curators' queue grouped by target, a target's
history, and a member's own reports.

The content itself belongs to other apps; these queries only read their tables.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Max, Min, Q, QuerySet
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound, PermissionDenied, ValidationFailed
from grassroots.core.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from grassroots.moderation.models import ModerationAction, Report, TargetKind

HISTORY_LIMIT = 200
PREVIEW_TEXT_LENGTH = 280

TargetKey = tuple[str, int]


def ensure_curator(user: Any) -> None:
    if not (user is not None and getattr(user, "is_authenticated", False) and user.is_curator):
        raise PermissionDenied(_("Only curators can moderate."), code="not_curator")


def _clean_kind(kind: str) -> str:
    if kind not in TargetKind.values:
        raise ValidationFailed(
            _("Choose a note, comment, message or person."), code="invalid_kind", fields={"target_kind": "invalid"}
        )
    return kind


def _url(name: str, *args: Any) -> str:
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


# What can be reported ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportTarget:
    kind: str
    id: int
    owner_id: int | None
    # True when the reporter wrote it (or is it): reporting oneself is refused.
    is_own: bool


def _message_for_participant(*, reporter: Any, message_id: int) -> ReportTarget:
    from grassroots.messaging.models import Message
    from grassroots.messaging.selectors import conversation_for_participant, conversation_side

    message = Message.objects.filter(pk=message_id, status=Message.Status.VISIBLE).first()
    if message is None:
        raise NotFound(_("Message not found."))
    # Only the people in the conversation may report it; anyone else learns nothing (404).
    conversation = conversation_for_participant(user=reporter, conversation_id=message.conversation_id)
    own = message.sender_id == reporter.pk or (
        message.sender_side == conversation_side(conversation=conversation, user=reporter)
    )
    return ReportTarget(kind=TargetKind.MESSAGE, id=message.pk, owner_id=message.sender_id, is_own=own)


def moderation_report_target(*, reporter: Any, kind: str, target_id: int) -> ReportTarget:
    """The target as `reporter` can see it, or NotFound: a published visible note, a visible comment
    on one, a message in one of the reporter's own conversations, an active member.

    Blocks do not hide content from reporting: someone who blocked a harasser can still report them.
    """
    from grassroots.interactions.models import Comment
    from grassroots.notes.selectors import notes_public

    kind = _clean_kind(kind)
    if kind == TargetKind.NOTE:
        author_id = notes_public().filter(pk=target_id).values_list("author_id", flat=True).first()
        if author_id is None:
            raise NotFound(_("Note not found."))
        return ReportTarget(kind=kind, id=target_id, owner_id=author_id, is_own=author_id == reporter.pk)
    if kind == TargetKind.COMMENT:
        author_id = (
            Comment.objects.filter(pk=target_id, status=Comment.Status.VISIBLE, note__in=notes_public().values("pk"))
            .values_list("author_id", flat=True)
            .first()
        )
        if author_id is None:
            raise NotFound(_("Comment not found."))
        return ReportTarget(kind=kind, id=target_id, owner_id=author_id, is_own=author_id == reporter.pk)
    if kind == TargetKind.MESSAGE:
        return _message_for_participant(reporter=reporter, message_id=target_id)
    if not get_user_model().objects.filter(pk=target_id, is_active=True).exists():
        raise NotFound(_("Member not found."))
    return ReportTarget(kind=kind, id=target_id, owner_id=target_id, is_own=target_id == reporter.pk)


def moderation_target_exists(*, kind: str, target_id: int) -> bool:
    """Whether the target exists at all, in any state (curators act on hidden content too)."""
    from grassroots.interactions.models import Comment
    from grassroots.messaging.models import Message
    from grassroots.notes.models import Note

    models: dict[str, Any] = {
        TargetKind.NOTE: Note,
        TargetKind.COMMENT: Comment,
        TargetKind.MESSAGE: Message,
        TargetKind.USER: get_user_model(),
    }
    return bool(models[_clean_kind(kind)].objects.filter(pk=target_id).exists())


def open_reports_on(*, kind: str, target_id: int) -> QuerySet[Report]:
    return Report.objects.filter(target_kind=kind, target_id=target_id, status=Report.Status.OPEN)


# Previews --------------------------------------------------------------------------------------


@dataclass
class TargetPreview:
    kind: str
    id: int
    exists: bool = False
    title: str = ""  # a note's title, a member's name
    text: str = ""  # a comment's or message's text, the start of a note
    author_id: int | None = None
    author_name: str = ""
    author_handle: str = ""
    state: str = ""  # the owner app's state value (visible, hidden, removed, deleted, active, suspended)
    state_label: str = ""
    moderation_reason: str = ""
    url: str = ""  # where the content is shown, when there is a public page for it
    context: str = ""  # what a comment is under (the note's title)


def _author_fields(user: Any) -> dict[str, Any]:
    if user is None:
        return {}
    return {
        "author_id": user.pk,
        "author_name": user.display_name or user.handle or "",
        "author_handle": user.handle or "",
    }


def _note_previews(ids: Iterable[int]) -> dict[int, TargetPreview]:
    from grassroots.notes.models import Note

    out: dict[int, TargetPreview] = {}
    notes = Note.objects.filter(pk__in=list(ids)).select_related("author").only(
        "pk", "title", "body", "status", "moderation", "moderation_reason",
        "author__id", "author__display_name", "author__handle",
    )  # fmt: skip
    for note in notes:
        state = note.moderation if note.status != Note.Status.DELETED else note.status
        label = note.get_moderation_display() if note.status != Note.Status.DELETED else note.get_status_display()
        out[note.pk] = TargetPreview(
            kind=TargetKind.NOTE,
            id=note.pk,
            exists=True,
            title=note.title,
            text=note.body[:PREVIEW_TEXT_LENGTH],
            state=state,
            state_label=str(label),
            moderation_reason=note.moderation_reason,
            url=_url("notes:detail", note.pk),
            **_author_fields(note.author),
        )
    return out


def _comment_previews(ids: Iterable[int]) -> dict[int, TargetPreview]:
    from grassroots.interactions.models import Comment

    out: dict[int, TargetPreview] = {}
    comments = Comment.objects.filter(pk__in=list(ids)).select_related("author", "note").only(
        "pk", "body", "status", "moderation_reason", "note__id", "note__title",
        "author__id", "author__display_name", "author__handle",
    )  # fmt: skip
    for comment in comments:
        note_url = _url("notes:detail", comment.note_id)
        out[comment.pk] = TargetPreview(
            kind=TargetKind.COMMENT,
            id=comment.pk,
            exists=True,
            text=comment.body[:PREVIEW_TEXT_LENGTH],
            state=comment.status,
            state_label=str(comment.get_status_display()),
            moderation_reason=comment.moderation_reason,
            url=f"{note_url}#comment-{comment.pk}" if note_url else "",
            context=comment.note.title,
            **_author_fields(comment.author),
        )
    return out


def _message_previews(ids: Iterable[int]) -> dict[int, TargetPreview]:
    from grassroots.messaging.models import Message

    out: dict[int, TargetPreview] = {}
    messages = Message.objects.filter(pk__in=list(ids)).select_related("sender").only(
        "pk", "body", "status", "moderation_reason", "conversation_id",
        "sender__id", "sender__display_name", "sender__handle",
    )  # fmt: skip
    for message in messages:
        out[message.pk] = TargetPreview(
            kind=TargetKind.MESSAGE,
            id=message.pk,
            exists=True,
            text=message.body[:PREVIEW_TEXT_LENGTH],
            state=message.status,
            state_label=str(message.get_status_display()),
            moderation_reason=message.moderation_reason,
            **_author_fields(message.sender),
        )
    return out


def _user_previews(ids: Iterable[int]) -> dict[int, TargetPreview]:
    out: dict[int, TargetPreview] = {}
    for user in get_user_model().objects.filter(pk__in=list(ids)).only("pk", "display_name", "handle", "is_active"):
        out[user.pk] = TargetPreview(
            kind=TargetKind.USER,
            id=user.pk,
            exists=True,
            title=user.display_name or user.handle or "",
            state="active" if user.is_active else "suspended",
            state_label=str(_("Active") if user.is_active else _("Suspended")),
            url=_url("social:profile", user.handle) if user.handle else "",
            **_author_fields(user),
        )
    return out


PREVIEWERS: dict[str, Callable[[Iterable[int]], dict[int, TargetPreview]]] = {
    TargetKind.NOTE: _note_previews,
    TargetKind.COMMENT: _comment_previews,
    TargetKind.MESSAGE: _message_previews,
    TargetKind.USER: _user_previews,
}


def target_previews(*, viewer: Any, targets: Iterable[TargetKey]) -> dict[TargetKey, TargetPreview]:
    """Previews for curators, one query per kind present. Missing targets get an empty preview."""
    ensure_curator(viewer)
    by_kind: dict[str, set[int]] = defaultdict(set)
    for kind, target_id in targets:
        by_kind[kind].add(target_id)
    out: dict[TargetKey, TargetPreview] = {}
    for kind, ids in by_kind.items():
        found = PREVIEWERS[kind](ids)
        for target_id in ids:
            out[(kind, target_id)] = found.get(target_id) or TargetPreview(kind=kind, id=target_id)
    return out


# The queue -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReasonCount:
    reason: str
    label: str
    count: int


@dataclass
class QueueItem:
    kind: str
    id: int
    report_count: int
    first_reported_at: datetime
    last_reported_at: datetime
    reasons: list[ReasonCount] = field(default_factory=list)  # most recently reported first
    latest: Report | None = None
    preview: TargetPreview | None = None

    @property
    def kind_label(self) -> str:
        return str(TargetKind(self.kind).label)


def _targets_q(keys: Iterable[TargetKey]) -> Q:
    by_kind: dict[str, list[int]] = defaultdict(list)
    for kind, target_id in keys:
        by_kind[kind].append(target_id)
    condition = Q(pk__in=[])
    for kind, ids in by_kind.items():
        condition |= Q(target_kind=kind, target_id__in=ids)
    return condition


def moderation_queue(
    *, viewer: Any, kind: str | None = None, cursor: str | None = None, limit: int = 20
) -> tuple[list[QueueItem], str | None]:
    """Targets with open reports, the one waiting longest first, with their report count, the reasons
    given, the latest report and a preview. Curators only. At most 7 queries whatever the page size."""
    ensure_curator(viewer)
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed(
            _("limit must be between 1 and %(max)s.") % {"max": MAX_LIMIT}, fields={"limit": "out_of_range"}
        )
    reports = Report.objects.filter(status=Report.Status.OPEN)
    if kind:
        reports = reports.filter(target_kind=_clean_kind(kind))
    groups = (
        reports.values("target_kind", "target_id")
        .annotate(
            first_id=Min("id"),
            last_id=Max("id"),
            report_count=Count("id"),
            first_at=Min("created_at"),
            last_at=Max("created_at"),
        )
        .order_by("first_id")
    )
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 1 or not isinstance(values[0], int):
            raise ValidationFailed(_("Invalid cursor."), code="invalid_cursor", fields={"cursor": "invalid"})
        groups = groups.filter(first_id__gt=values[0])
    rows = list(groups[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor([rows[-1]["first_id"]])
    if not rows:
        return [], None

    keys = [(row["target_kind"], row["target_id"]) for row in rows]
    reason_labels = dict(Report.Reason.choices)
    reasons: dict[TargetKey, list[ReasonCount]] = defaultdict(list)
    reason_rows = (
        Report.objects.filter(status=Report.Status.OPEN)
        .filter(_targets_q(keys))
        .values("target_kind", "target_id", "reason")
        .annotate(n=Count("id"), last=Max("id"))
        .order_by("-last")
    )
    for row in reason_rows:
        reasons[(row["target_kind"], row["target_id"])].append(
            ReasonCount(
                reason=row["reason"], label=str(reason_labels.get(row["reason"], row["reason"])), count=row["n"]
            )
        )
    latest = {
        r.pk: r for r in Report.objects.filter(pk__in=[row["last_id"] for row in rows]).select_related("reporter")
    }
    previews = target_previews(viewer=viewer, targets=keys)
    items = [
        QueueItem(
            kind=row["target_kind"],
            id=row["target_id"],
            report_count=row["report_count"],
            first_reported_at=row["first_at"],
            last_reported_at=row["last_at"],
            reasons=reasons[(row["target_kind"], row["target_id"])],
            latest=latest.get(row["last_id"]),
            preview=previews[(row["target_kind"], row["target_id"])],
        )
        for row in rows
    ]
    return items, next_cursor


def open_target_count() -> int:
    """How many targets wait in the queue (for a badge)."""
    return Report.objects.filter(status=Report.Status.OPEN).values("target_kind", "target_id").distinct().count()


# A target's history ----------------------------------------------------------------------------


@dataclass
class TargetHistory:
    preview: TargetPreview
    reports: list[Report]  # newest first
    actions: list[ModerationAction]  # newest first
    open_count: int


def moderation_target_history(*, viewer: Any, kind: str, target_id: int) -> TargetHistory:
    """Everything about one target for the decision page: preview, every report and every decision."""
    ensure_curator(viewer)
    kind = _clean_kind(kind)
    preview = target_previews(viewer=viewer, targets=[(kind, target_id)])[(kind, target_id)]
    reports = list(
        Report.objects.filter(target_kind=kind, target_id=target_id)
        .select_related("reporter", "handled_by")
        .order_by("-created_at", "-id")[:HISTORY_LIMIT]
    )
    if not preview.exists and not reports:
        raise NotFound(_("Nothing to moderate here."))
    actions = list(
        ModerationAction.objects.filter(target_kind=kind, target_id=target_id)
        .select_related("moderator")
        .order_by("-created_at", "-id")[:HISTORY_LIMIT]
    )
    return TargetHistory(
        preview=preview,
        reports=reports,
        actions=actions,
        open_count=open_reports_on(kind=kind, target_id=target_id).count(),
    )


# A member's own reports ------------------------------------------------------------------------


def reports_by_reporter(*, reporter_id: int | None) -> QuerySet[Report]:
    return Report.objects.filter(reporter_id=reporter_id)
