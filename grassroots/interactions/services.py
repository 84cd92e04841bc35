"""Writes for likes, collections and comments.

Every counter (Note.like_count / collect_count / comment_count, Collection.item_count,
Comment.reply_count) changes by an F() update in the same transaction that adds or removes the counted
row, and only when the row really was added or removed, so repeats and races cannot make it drift.
Notifications are sent after the write commits.
"""

from __future__ import annotations

import html
import re
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.core.conf import gr_setting
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from grassroots.core.ratelimit import rate_limit_hit
from grassroots.core.text import clean_plain_text, sanitize_html
from grassroots.interactions.models import (
    COLLECTION_NAME_MAX_LENGTH,
    COMMENT_MAX_LENGTH,
    Collection,
    CollectionItem,
    CollectMark,
    Comment,
    Like,
)
from grassroots.notes.models import Note
from grassroots.notes.services import note_counter_add
from grassroots.notifications.models import NotificationKind
from grassroots.notifications.services import notification_send
from grassroots.social.models import Block
from grassroots.social.selectors import social_blocked_between

ModerationAction = Literal["hide", "remove", "restore"]
MENTION_RE = re.compile(r"(?<![\w@/])@([A-Za-z0-9_]{1,30})")
MAX_MENTIONS = 10
EXCERPT_LENGTH = 80


# --- shared helpers -----------------------------------------------------------------------------


def note_url(note_id: int) -> str:
    """The note's page (used in notifications and redirects)."""
    try:
        return reverse("notes:detail", args=[note_id])
    except NoReverseMatch:
        return f"/notes/{note_id}/"


def profile_url(handle: str) -> str:
    try:
        return reverse("social:profile", args=[handle])
    except NoReverseMatch:
        return f"/u/{handle}/"


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT_LENGTH else text[: EXCERPT_LENGTH - 1] + "…"


def _note_or_404(note_id: int, *, lock: bool = False) -> Note:
    queryset = Note.objects.select_for_update() if lock else Note.objects.all()
    note = queryset.filter(pk=note_id).first()
    if note is None:
        raise NotFound(_("Note not found."), code="note_not_found")
    return note


def _interactable_note(*, user: Any, note_id: int) -> Note:
    """A note the user may like, collect or comment on: published, visible, no block between them."""
    note = _note_or_404(note_id)
    if note.status == Note.Status.DRAFT and note.author_id != user.pk:
        raise NotFound(_("Note not found."), code="note_not_found")
    if note.status != Note.Status.PUBLISHED or note.moderation != Note.Moderation.VISIBLE:
        raise Conflict(_("This note is no longer available."), code="note_unavailable")
    if social_blocked_between(user_id=user.pk, other_id=note.author_id):
        raise PermissionDenied(_("You cannot interact with this note."), code="blocked")
    return note


# --- likes --------------------------------------------------------------------------------------


def like_add(*, user: Any, note_id: int) -> bool:
    """Like a note. Idempotent: True when a like was really added, False when it was already there."""
    note = _interactable_note(user=user, note_id=note_id)
    with transaction.atomic():
        try:
            with transaction.atomic():
                Like.objects.create(user=user, note_id=note.pk)
        except IntegrityError:
            return False
        note_counter_add(note_id=note.pk, counter="like_count", delta=1)
    notification_send(
        recipient_id=note.author_id,
        kind=NotificationKind.LIKE,
        actor_id=user.pk,
        target_url=note_url(note.pk),
        data={"note_id": note.pk, "note_title": note.title},
        dedupe_key=f"like:{user.pk}:{note.pk}",
    )
    return True


def like_remove(*, user: Any, note_id: int) -> bool:
    """Take a like back. Idempotent: True when a like was really removed. Works on any note, so a like
    on a note that was since hidden can still be withdrawn."""
    _note_or_404(note_id)
    with transaction.atomic():
        deleted, _rows = Like.objects.filter(user=user, note_id=note_id).delete()
        if deleted:
            note_counter_add(note_id=note_id, counter="like_count", delta=-1)
    return bool(deleted)


# --- collections --------------------------------------------------------------------------------


def _collection_name(raw: str) -> str:
    name = clean_plain_text(raw or "", max_length=10 * COLLECTION_NAME_MAX_LENGTH)
    if not name:
        raise ValidationFailed(
            _("Give the collection a name."), code="name_required", fields={"name": _("This field is required.")}
        )
    if len(name) > COLLECTION_NAME_MAX_LENGTH:
        raise ValidationFailed(
            _("A collection name has at most %(max)s characters.") % {"max": COLLECTION_NAME_MAX_LENGTH},
            code="name_too_long",
            fields={"name": _("Too long.")},
        )
    return name


def _name_taken() -> Conflict:
    return Conflict(
        _("You already have a collection with this name."),
        code="collection_name_taken",
        fields={"name": _("Already used.")},
    )


def _owned_collection(*, user: Any, collection_id: int, lock: bool = False) -> Collection:
    queryset = Collection.objects.select_for_update() if lock else Collection.objects.all()
    collection = queryset.filter(pk=collection_id, owner=user).first()
    if collection is None:  # someone else's collection looks exactly like a missing one
        raise NotFound(_("Collection not found."), code="collection_not_found")
    return collection


def collection_create(*, user: Any, name: str) -> Collection:
    name = _collection_name(name)
    try:
        with transaction.atomic():
            return Collection.objects.create(owner=user, name=name)
    except IntegrityError:
        raise _name_taken() from None


def collection_rename(*, user: Any, collection_id: int, name: str) -> Collection:
    name = _collection_name(name)
    collection = _owned_collection(user=user, collection_id=collection_id)
    if collection.name == name:
        return collection
    try:
        with transaction.atomic():
            Collection.objects.filter(pk=collection.pk).update(name=name)
    except IntegrityError:
        raise _name_taken() from None
    collection.name = name
    return collection


def collection_default(*, user: Any) -> Collection:
    """The owner's default collection ("Saved"), created on first use (race-safe)."""
    existing = Collection.objects.filter(owner=user, is_default=True).first()
    if existing is not None:
        return existing
    name = _("Saved")
    try:
        with transaction.atomic():
            return Collection.objects.create(owner=user, name=name, is_default=True)
    except IntegrityError:
        pass  # created concurrently, or the owner already has a collection with this name
    existing = Collection.objects.filter(owner=user, is_default=True).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            Collection.objects.filter(owner=user, name=name).update(is_default=True)
    except IntegrityError:
        pass
    existing = Collection.objects.filter(owner=user, is_default=True).first()
    if existing is None:  # pragma: no cover - only under a pathological race
        raise Conflict(_("Please try again."), code="retry")
    return existing


def _mark_acquire(*, user_id: int, note_id: int) -> bool:
    """Ensure the user's collect mark for the note exists and is locked by this transaction.
    True when it was created (the user's first collection item for this note)."""
    while True:
        try:
            with transaction.atomic():
                CollectMark.objects.create(user_id=user_id, note_id=note_id)
            return True
        except IntegrityError:
            # It exists: lock it. If a concurrent "last item removed" deleted it meanwhile, insert again.
            if CollectMark.objects.select_for_update().filter(user_id=user_id, note_id=note_id).exists():
                return False


# Lock order in every collect path (no deadlocks): collection rows (by id), then collect marks
# (by note id), then note rows (by note_counter_add).


def _item_remove_locked(*, user_id: int, collection_id: int, note_id: int) -> bool:
    """Inside a transaction that holds the collection's row lock: remove one item and keep
    item_count, the collect mark and note.collect_count exact. True when the item existed."""
    has_mark = CollectMark.objects.select_for_update().filter(user_id=user_id, note_id=note_id).exists()
    deleted, _rows = CollectionItem.objects.filter(collection_id=collection_id, note_id=note_id).delete()
    if not deleted:
        return False
    Collection.objects.filter(pk=collection_id).update(item_count=Greatest(F("item_count") - 1, 0))
    others = CollectionItem.objects.filter(collection__owner_id=user_id, note_id=note_id).exists()
    if has_mark and not others:
        marks, _rows = CollectMark.objects.filter(user_id=user_id, note_id=note_id).delete()
        if marks:
            note_counter_add(note_id=note_id, counter="collect_count", delta=-1)
    return True


def collect_add(*, user: Any, note_id: int, collection_id: int | None = None) -> tuple[Collection, bool]:
    """Put a note into one of the user's collections (the default one when none is given).
    Idempotent: returns (collection, created)."""
    note = _interactable_note(user=user, note_id=note_id)
    if collection_id is None:
        collection_id = collection_default(user=user).pk
    with transaction.atomic():
        collection = _owned_collection(user=user, collection_id=collection_id, lock=True)
        first_for_user = _mark_acquire(user_id=user.pk, note_id=note.pk)
        try:
            with transaction.atomic():
                CollectionItem.objects.create(collection=collection, note_id=note.pk)
        except IntegrityError:
            created = False
        else:
            created = True
            Collection.objects.filter(pk=collection.pk).update(item_count=F("item_count") + 1)
        if first_for_user:
            # The user's first item for this note (or a missing mark repaired): one more collector.
            note_counter_add(note_id=note.pk, counter="collect_count", delta=1)
    collection.refresh_from_db(fields=["item_count"])
    return collection, created


def collect_remove(*, user: Any, note_id: int, collection_id: int | None = None) -> int:
    """Take a note out of one collection, or out of all the user's collections when none is given.
    Idempotent; returns how many items were removed."""
    _note_or_404(note_id)
    if collection_id is not None:
        collection_ids = [_owned_collection(user=user, collection_id=collection_id).pk]
    else:
        collection_ids = list(
            CollectionItem.objects.filter(collection__owner=user, note_id=note_id)
            .order_by("collection_id")
            .values_list("collection_id", flat=True)
        )
    if not collection_ids:
        return 0
    removed = 0
    with transaction.atomic():
        locked = list(
            Collection.objects.select_for_update()
            .filter(pk__in=collection_ids, owner=user)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        for cid in locked:
            removed += _item_remove_locked(user_id=user.pk, collection_id=cid, note_id=note_id)
    return removed


def collection_delete(*, user: Any, collection_id: int) -> None:
    """Delete a collection and its items; notes collected nowhere else lose this collector."""
    with transaction.atomic():
        collection = _owned_collection(user=user, collection_id=collection_id, lock=True)
        note_ids = list(
            CollectionItem.objects.filter(collection=collection).order_by("note_id").values_list("note_id", flat=True)
        )
        # Take the marks first, in note order, so the note-row locks below come strictly after them.
        list(
            CollectMark.objects.select_for_update()
            .filter(user=user, note_id__in=note_ids)
            .order_by("note_id")
            .values_list("pk", flat=True)
        )
        for note_id in note_ids:
            _item_remove_locked(user_id=user.pk, collection_id=collection.pk, note_id=note_id)
        collection.delete()


# --- comments -----------------------------------------------------------------------------------


def _comment_body(raw: str) -> str:
    body = (raw or "").replace("\r\n", "\n").strip()
    if not body:
        raise ValidationFailed(
            _("Write something first."), code="body_required", fields={"body": _("This field is required.")}
        )
    if len(body) > COMMENT_MAX_LENGTH:
        raise ValidationFailed(
            _("A comment has at most %(max)s characters.") % {"max": COMMENT_MAX_LENGTH},
            code="body_too_long",
            fields={"body": _("Too long.")},
        )
    return body


def _mentioned_users(*, body: str, author_id: int) -> list[User]:
    """Users @mentioned in the text that exist, are not the author and have no block with the author."""
    handles: list[str] = []
    for match in MENTION_RE.finditer(body):
        handle = match.group(1).lower()
        if handle not in handles:
            handles.append(handle)
    if not handles:
        return []
    users = list(User.objects.filter(handle__in=handles[:MAX_MENTIONS], is_active=True).exclude(pk=author_id))
    if not users:
        return []
    ids = [u.pk for u in users]
    blocked = set(
        Block.objects.filter(
            Q(blocker_id=author_id, blocked_id__in=ids) | Q(blocked_id=author_id, blocker_id__in=ids)
        ).values_list("blocker_id", "blocked_id")
    )
    blocked_ids = {a for a, _b in blocked} | {b for _a, b in blocked}
    return [u for u in users if u.pk not in blocked_ids]


def render_comment_html(*, body: str, mentioned: list[User]) -> str:
    """Escaped text, line breaks kept, @mentions of the given users linked, then sanitised."""
    by_handle = {u.handle: u for u in mentioned if u.handle}
    escaped = html.escape(body, quote=True)

    def link(match: re.Match[str]) -> str:
        handle = match.group(1).lower()
        if handle not in by_handle:
            return match.group(0)
        url = html.escape(profile_url(handle), quote=True)
        return f'<a href="{url}">@{html.escape(match.group(1))}</a>'

    linked = MENTION_RE.sub(link, escaped)
    paragraphs = [p.replace("\n", "<br>") for p in re.split(r"\n{2,}", linked)]
    return sanitize_html("".join(f"<p>{p}</p>" for p in paragraphs))


def comment_create(*, user: Any, note_id: int, body: str, parent_id: int | None = None) -> Comment:
    """Comment on a published, visible note, or reply to a visible top-level comment of it."""
    body = _comment_body(body)
    note = _interactable_note(user=user, note_id=note_id)
    parent: Comment | None = None
    if parent_id is not None:
        parent = Comment.objects.filter(pk=parent_id, note_id=note.pk).first()
        if parent is None:
            raise NotFound(_("Comment not found."), code="comment_not_found")
        if parent.parent_id is not None:
            raise ValidationFailed(
                _("You can only reply to a top-level comment."), code="reply_depth", fields={"parent": "depth"}
            )
        if parent.status != Comment.Status.VISIBLE:
            raise Conflict(_("This comment is no longer available."), code="comment_unavailable")
        if social_blocked_between(user_id=user.pk, other_id=parent.author_id):
            raise PermissionDenied(_("You cannot reply to this comment."), code="blocked")
    rate_limit_hit(scope="comments", key=str(user.pk), limit=int(gr_setting("COMMENTS_PER_HOUR")), window_seconds=3600)
    mentioned = _mentioned_users(body=body, author_id=user.pk)
    body_html = render_comment_html(body=body, mentioned=mentioned)
    with transaction.atomic():
        if parent is not None:
            # Lock the parent so it cannot be deleted or hidden between the check and the reply.
            status = Comment.objects.select_for_update().filter(pk=parent.pk).values_list("status", flat=True).first()
            if status != Comment.Status.VISIBLE:
                raise Conflict(_("This comment is no longer available."), code="comment_unavailable")
        comment = Comment.objects.create(note_id=note.pk, author=user, parent=parent, body=body, body_html=body_html)
        if parent is not None:
            Comment.objects.filter(pk=parent.pk).update(reply_count=F("reply_count") + 1)
        # Lock order: comment rows (child, then parent), then the note row.
        note_counter_add(note_id=note.pk, counter="comment_count", delta=1)
    _notify_comment(comment=comment, note=note, parent=parent, mentioned=mentioned)
    return comment


def _notify_comment(*, comment: Comment, note: Note, parent: Comment | None, mentioned: list[User]) -> None:
    target = f"{note_url(note.pk)}#comment-{comment.pk}"
    data: dict[str, Any] = {
        "note_id": note.pk,
        "note_title": note.title,
        "comment_id": comment.pk,
        "excerpt": _excerpt(comment.body),
    }
    notified: set[int] = {comment.author_id}
    if parent is not None and parent.author_id not in notified:
        notification_send(
            recipient_id=parent.author_id,
            kind=NotificationKind.REPLY,
            actor_id=comment.author_id,
            target_url=target,
            data=data,
            dedupe_key=f"reply:{comment.pk}",
        )
        notified.add(parent.author_id)
    if note.author_id not in notified:
        notification_send(
            recipient_id=note.author_id,
            kind=NotificationKind.COMMENT,
            actor_id=comment.author_id,
            target_url=target,
            data=data,
            dedupe_key=f"comment:{comment.pk}",
        )
        notified.add(note.author_id)
    for user in mentioned:
        if user.pk in notified:
            continue
        notification_send(
            recipient_id=user.pk,
            kind=NotificationKind.MENTION,
            actor_id=comment.author_id,
            target_url=target,
            data=data,
            dedupe_key=f"mention:comment:{comment.pk}:{user.pk}",
        )
        notified.add(user.pk)


def _visibility_changed(*, comment: Comment, was_visible: bool, now_visible: bool) -> None:
    """Keep comment_count (visible comments of the note) and parent.reply_count (visible replies) exact."""
    if was_visible == now_visible:
        return
    delta = 1 if now_visible else -1
    if comment.parent_id is not None:
        Comment.objects.filter(pk=comment.parent_id).update(reply_count=Greatest(F("reply_count") + delta, 0))
    note_counter_add(note_id=comment.note_id, counter="comment_count", delta=delta)


def comment_delete(*, user: Any, comment_id: int) -> Comment:
    """Delete a comment: its author or the note's author may. Idempotent."""
    with transaction.atomic():
        comment = Comment.objects.select_for_update().filter(pk=comment_id).first()
        if comment is None:
            raise NotFound(_("Comment not found."), code="comment_not_found")
        note_author_id = Note.objects.filter(pk=comment.note_id).values_list("author_id", flat=True).first()
        if user.pk not in (comment.author_id, note_author_id):
            raise PermissionDenied(_("You may not delete this comment."), code="forbidden")
        if comment.status == Comment.Status.DELETED:
            return comment
        was_visible = comment.status == Comment.Status.VISIBLE
        comment.status = Comment.Status.DELETED
        Comment.objects.filter(pk=comment.pk).update(status=Comment.Status.DELETED)
        _visibility_changed(comment=comment, was_visible=was_visible, now_visible=False)
    return comment


MODERATION_TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "hide": ({Comment.Status.VISIBLE}, Comment.Status.HIDDEN),
    "remove": ({Comment.Status.VISIBLE, Comment.Status.HIDDEN}, Comment.Status.REMOVED),
    "restore": ({Comment.Status.HIDDEN, Comment.Status.REMOVED}, Comment.Status.VISIBLE),
}


def comment_moderate(*, comment_id: int, action: ModerationAction | str, reason: str, moderator: Any) -> Comment:
    """Hide (pending review), remove, or restore a comment; counters stay exact and the author is told
    why. Repeating a decision that is already in effect is a no-op. Callers check the moderator's
    permission."""
    if action not in MODERATION_TRANSITIONS:
        raise ValidationFailed(_("Unknown moderation action."), code="invalid_action", fields={"action": "invalid"})
    reason = (reason or "").strip()
    if action != "restore" and not reason:
        raise ValidationFailed(
            _("Give a reason; the author will see it."),
            code="reason_required",
            fields={"reason": _("This field is required.")},
        )
    allowed_from, target = MODERATION_TRANSITIONS[action]
    with transaction.atomic():
        comment = Comment.objects.select_for_update().filter(pk=comment_id).first()
        if comment is None:
            raise NotFound(_("Comment not found."), code="comment_not_found")
        if comment.status == target:
            return comment
        if comment.status not in allowed_from:
            raise Conflict(
                _("This comment cannot be moderated this way in its current state."), code="invalid_transition"
            )
        was_visible = comment.status == Comment.Status.VISIBLE
        comment.status = target
        comment.moderation_reason = "" if action == "restore" else reason
        Comment.objects.filter(pk=comment.pk).update(status=comment.status, moderation_reason=comment.moderation_reason)
        _visibility_changed(comment=comment, was_visible=was_visible, now_visible=target == Comment.Status.VISIBLE)
    notification_send(
        recipient_id=comment.author_id,
        kind=NotificationKind.MODERATION,
        actor_id=None,
        target_url=f"{note_url(comment.note_id)}#comment-{comment.pk}",
        data={
            "object": "comment",
            "comment_id": comment.pk,
            "note_id": comment.note_id,
            "action": action,
            "reason": reason,
            "excerpt": _excerpt(comment.body),
        },
    )
    return comment
