from __future__ import annotations

import pytest
from django.utils import timezone

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.core.errors import Conflict, NotFound, PermissionDenied, RateLimited, ValidationFailed
from grassroots.interactions import services
from grassroots.interactions.models import Collection, CollectionItem, CollectMark, Comment, Like
from grassroots.interactions.tests.factories import NoteFactory
from grassroots.notes.models import Note
from grassroots.notifications.models import Notification, NotificationKind
from grassroots.social.models import Block

pytestmark = pytest.mark.django_db


def counts(note: Note) -> tuple[int, int, int]:
    note.refresh_from_db()
    return note.like_count, note.collect_count, note.comment_count


# --- likes ----------------------------------------------------------------------------------------


def test_like_is_idempotent_and_counted_once():
    note = NoteFactory()
    fan = UserFactory()

    assert services.like_add(user=fan, note_id=note.pk) is True
    assert services.like_add(user=fan, note_id=note.pk) is False

    assert counts(note)[0] == 1
    assert Like.objects.filter(note=note).count() == 1
    notes = Notification.objects.filter(recipient=note.author, kind=NotificationKind.LIKE)
    assert notes.count() == 1
    assert notes.get().dedupe_key == f"like:{fan.pk}:{note.pk}"

    assert services.like_remove(user=fan, note_id=note.pk) is True
    assert services.like_remove(user=fan, note_id=note.pk) is False
    assert counts(note)[0] == 0

    # liking again does not notify twice (dedupe)
    services.like_add(user=fan, note_id=note.pk)
    assert notes.count() == 1


def test_own_like_does_not_notify():
    note = NoteFactory()
    services.like_add(user=note.author, note_id=note.pk)
    assert not Notification.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"status": Note.Status.DELETED, "deleted_at": timezone.now()},
        {"moderation": Note.Moderation.HIDDEN},
        {"moderation": Note.Moderation.REMOVED},
    ],
)
def test_cannot_like_an_unavailable_note(changes):
    note = NoteFactory(**changes)
    with pytest.raises(Conflict) as error:
        services.like_add(user=UserFactory(), note_id=note.pk)
    assert error.value.code == "note_unavailable"
    assert not Like.objects.exists()


def test_draft_and_missing_notes_are_not_found():
    draft = NoteFactory(status=Note.Status.DRAFT, published_at=None)
    with pytest.raises(NotFound):
        services.like_add(user=UserFactory(), note_id=draft.pk)
    with pytest.raises(NotFound):
        services.like_add(user=UserFactory(), note_id=10**9)


@pytest.mark.parametrize("direction", ["author_blocks", "reader_blocks"])
def test_blocked_cannot_like_collect_or_comment(direction):
    note = NoteFactory()
    reader = UserFactory()
    if direction == "author_blocks":
        Block.objects.create(blocker=note.author, blocked=reader)
    else:
        Block.objects.create(blocker=reader, blocked=note.author)

    for action in (
        lambda: services.like_add(user=reader, note_id=note.pk),
        lambda: services.collect_add(user=reader, note_id=note.pk),
        lambda: services.comment_create(user=reader, note_id=note.pk, body="hi"),
    ):
        with pytest.raises(PermissionDenied) as error:
            action()
        assert error.value.code == "blocked"
    assert counts(note) == (0, 0, 0)
    assert not Like.objects.exists() and not CollectionItem.objects.exists() and not Comment.objects.exists()


# --- collections ----------------------------------------------------------------------------------


def test_collect_creates_default_collection_and_counts_distinct_users():
    note = NoteFactory()
    reader = UserFactory()

    saved, created = services.collect_add(user=reader, note_id=note.pk)
    assert created and saved.is_default and saved.name == "Saved" and saved.item_count == 1
    trips = services.collection_create(user=reader, name="Trips")
    services.collect_add(user=reader, note_id=note.pk, collection_id=trips.pk)
    _same, again = services.collect_add(user=reader, note_id=note.pk, collection_id=trips.pk)
    assert again is False
    assert counts(note)[1] == 1  # one user, two collections

    other = UserFactory()
    services.collect_add(user=other, note_id=note.pk)
    assert counts(note)[1] == 2

    assert services.collect_remove(user=reader, note_id=note.pk, collection_id=saved.pk) == 1
    assert counts(note)[1] == 2  # still in Trips
    assert services.collect_remove(user=reader, note_id=note.pk, collection_id=trips.pk) == 1
    assert counts(note)[1] == 1
    assert services.collect_remove(user=reader, note_id=note.pk) == 0
    assert Collection.objects.get(pk=trips.pk).item_count == 0
    assert CollectMark.objects.filter(note=note).count() == 1


def test_default_collection_is_created_once_and_in_the_active_language():
    from django.utils import translation

    reader = UserFactory()
    with translation.override("zh-hans"):
        first = services.collection_default(user=reader)
    assert services.collection_default(user=reader).pk == first.pk
    assert Collection.objects.filter(owner=reader).count() == 1


def test_default_adopts_an_existing_collection_named_saved():
    reader = UserFactory()
    mine = services.collection_create(user=reader, name="Saved")
    assert services.collection_default(user=reader).pk == mine.pk


def test_uncollect_everywhere_and_delete_collection_keep_counts_exact():
    a, b = NoteFactory(), NoteFactory()
    reader = UserFactory()
    trips = services.collection_create(user=reader, name="Trips")
    for note in (a, b):
        services.collect_add(user=reader, note_id=note.pk)
    services.collect_add(user=reader, note_id=a.pk, collection_id=trips.pk)

    assert services.collect_remove(user=reader, note_id=a.pk) == 2
    assert counts(a)[1] == 0

    services.collect_add(user=reader, note_id=a.pk, collection_id=trips.pk)
    saved = services.collection_default(user=reader)
    services.collection_delete(user=reader, collection_id=saved.pk)
    assert counts(a)[1] == 1  # still in Trips
    assert counts(b)[1] == 0
    assert not Collection.objects.filter(pk=saved.pk).exists()


def test_collection_names_are_unique_per_owner_and_limited():
    reader = UserFactory()
    services.collection_create(user=reader, name="Trips")
    with pytest.raises(Conflict) as error:
        services.collection_create(user=reader, name="Trips")
    assert error.value.code == "collection_name_taken"
    services.collection_create(user=UserFactory(), name="Trips")  # other owners may use it

    with pytest.raises(ValidationFailed) as error:
        services.collection_create(user=reader, name="x" * 41)
    assert error.value.code == "name_too_long"
    with pytest.raises(ValidationFailed) as error:
        services.collection_create(user=reader, name="  <b></b> ")
    assert error.value.code == "name_required"
    assert services.collection_create(user=reader, name="<i>Gifts</i>").name == "Gifts"

    other = services.collection_create(user=reader, name="Other")
    with pytest.raises(Conflict):
        services.collection_rename(user=reader, collection_id=other.pk, name="Trips")
    assert services.collection_rename(user=reader, collection_id=other.pk, name="Books").name == "Books"


def test_someone_elses_collection_is_not_found():
    owner, intruder = UserFactory(), UserFactory()
    theirs = services.collection_create(user=owner, name="Private")
    note = NoteFactory()
    for action in (
        lambda: services.collection_rename(user=intruder, collection_id=theirs.pk, name="Mine"),
        lambda: services.collection_delete(user=intruder, collection_id=theirs.pk),
        lambda: services.collect_add(user=intruder, note_id=note.pk, collection_id=theirs.pk),
        lambda: services.collect_remove(user=intruder, note_id=note.pk, collection_id=theirs.pk),
    ):
        with pytest.raises(NotFound):
            action()
    assert Collection.objects.get(pk=theirs.pk).name == "Private"
    assert not CollectionItem.objects.exists()


# --- comments -------------------------------------------------------------------------------------


def test_comment_and_reply_update_counters_and_notify():
    note = NoteFactory()
    alice, bob = UserFactory(), UserFactory()

    top = services.comment_create(user=alice, note_id=note.pk, body="Where did you buy it?")
    reply = services.comment_create(user=bob, note_id=note.pk, body="Same question", parent_id=top.pk)

    assert counts(note)[2] == 2
    top.refresh_from_db()
    assert top.reply_count == 1 and reply.parent_id == top.pk
    kinds = set(Notification.objects.values_list("recipient_id", "kind"))
    assert (note.author.pk, NotificationKind.COMMENT) in kinds
    assert (alice.pk, NotificationKind.REPLY) in kinds


def test_reply_to_a_reply_is_refused():
    note = NoteFactory()
    top = services.comment_create(user=UserFactory(), note_id=note.pk, body="top")
    reply = services.comment_create(user=UserFactory(), note_id=note.pk, body="reply", parent_id=top.pk)
    with pytest.raises(ValidationFailed) as error:
        services.comment_create(user=UserFactory(), note_id=note.pk, body="deeper", parent_id=reply.pk)
    assert error.value.code == "reply_depth"
    assert Comment.objects.count() == 2
    assert counts(note)[2] == 2


def test_reply_must_belong_to_the_same_note():
    top = services.comment_create(user=UserFactory(), note_id=NoteFactory().pk, body="top")
    other = NoteFactory()
    with pytest.raises(NotFound):
        services.comment_create(user=UserFactory(), note_id=other.pk, body="x", parent_id=top.pk)


@pytest.mark.parametrize(
    ("body", "code"), [("", "body_required"), ("   \n ", "body_required"), ("x" * 1001, "body_too_long")]
)
def test_comment_body_is_required_and_limited(body, code):
    note = NoteFactory()
    with pytest.raises(ValidationFailed) as error:
        services.comment_create(user=UserFactory(), note_id=note.pk, body=body)
    assert error.value.code == code
    assert not Comment.objects.exists()


def test_comment_on_deleted_note_writes_nothing():
    note = NoteFactory(status=Note.Status.DELETED, deleted_at=timezone.now())
    with pytest.raises(Conflict) as error:
        services.comment_create(user=UserFactory(), note_id=note.pk, body="hello")
    assert error.value.code == "note_unavailable"
    assert not Comment.objects.exists() and counts(note)[2] == 0
    assert not Notification.objects.exists()


def test_script_is_stored_raw_and_rendered_inert():
    note = NoteFactory()
    body = '<script>alert("x")</script> <img src=x onerror=alert(1)> **not markdown**'
    comment = services.comment_create(user=UserFactory(), note_id=note.pk, body=body)
    assert comment.body == body
    assert "<script" not in comment.body_html and "<img" not in comment.body_html
    assert "&lt;script&gt;" in comment.body_html
    assert "onerror=" not in comment.body_html.replace("onerror=alert", "")  # only as escaped text


def test_mentions_are_linked_and_notified_except_across_blocks():
    note = NoteFactory()
    writer = UserFactory()
    friend = UserFactory(handle="friend")
    blocker = UserFactory(handle="blocker")
    Block.objects.create(blocker=blocker, blocked=writer)

    comment = services.comment_create(
        user=writer, note_id=note.pk, body="@Friend look! @blocker @nobody mail@friend.com"
    )

    assert comment.body_html.count("<a ") == 1
    assert "/u/friend/" in comment.body_html or 'href="' in comment.body_html
    assert "@blocker" in comment.body_html
    mentions = Notification.objects.filter(kind=NotificationKind.MENTION)
    assert list(mentions.values_list("recipient_id", flat=True)) == [friend.pk]


def test_comment_rate_limit(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "COMMENTS_PER_HOUR": 2}
    note = NoteFactory()
    writer = UserFactory()
    services.comment_create(user=writer, note_id=note.pk, body="one")
    services.comment_create(user=writer, note_id=note.pk, body="two")
    with pytest.raises(RateLimited) as error:
        services.comment_create(user=writer, note_id=note.pk, body="three")
    assert error.value.retry_after > 0
    assert Comment.objects.count() == 2


def test_delete_by_author_or_note_author_only():
    note = NoteFactory()
    writer, stranger = UserFactory(), UserFactory()
    top = services.comment_create(user=writer, note_id=note.pk, body="top")
    reply = services.comment_create(user=UserFactory(), note_id=note.pk, body="reply", parent_id=top.pk)

    with pytest.raises(PermissionDenied):
        services.comment_delete(user=stranger, comment_id=top.pk)

    services.comment_delete(user=note.author, comment_id=reply.pk)
    top.refresh_from_db()
    assert top.reply_count == 0 and counts(note)[2] == 1
    services.comment_delete(user=writer, comment_id=top.pk)
    services.comment_delete(user=writer, comment_id=top.pk)  # idempotent
    assert counts(note)[2] == 0
    assert Comment.objects.get(pk=top.pk).status == Comment.Status.DELETED


def test_cannot_reply_to_deleted_comment():
    note = NoteFactory()
    writer = UserFactory()
    top = services.comment_create(user=writer, note_id=note.pk, body="top")
    services.comment_delete(user=writer, comment_id=top.pk)
    with pytest.raises(Conflict):
        services.comment_create(user=UserFactory(), note_id=note.pk, body="late", parent_id=top.pk)


def test_moderation_keeps_counters_exact_and_tells_the_author():
    note = NoteFactory()
    writer = UserFactory()
    curator = CuratorFactory()
    top = services.comment_create(user=writer, note_id=note.pk, body="top")
    reply = services.comment_create(user=UserFactory(), note_id=note.pk, body="spam", parent_id=top.pk)

    services.comment_moderate(comment_id=reply.pk, action="hide", reason="Looks like spam", moderator=curator)
    top.refresh_from_db()
    assert top.reply_count == 0 and counts(note)[2] == 1
    services.comment_moderate(comment_id=reply.pk, action="hide", reason="again", moderator=curator)  # no-op
    assert counts(note)[2] == 1

    removed = services.comment_moderate(comment_id=reply.pk, action="remove", reason="Spam", moderator=curator)
    assert removed.status == Comment.Status.REMOVED and removed.moderation_reason == "Spam"
    assert counts(note)[2] == 1

    services.comment_moderate(comment_id=reply.pk, action="restore", reason="", moderator=curator)
    top.refresh_from_db()
    assert top.reply_count == 1 and counts(note)[2] == 2

    moderation = Notification.objects.filter(kind=NotificationKind.MODERATION, recipient=reply.author)
    assert moderation.count() == 3
    assert moderation.order_by("id").first().data["reason"] == "Looks like spam"


def test_moderation_bad_input():
    comment = services.comment_create(user=UserFactory(), note_id=NoteFactory().pk, body="x")
    curator = CuratorFactory()
    with pytest.raises(ValidationFailed):
        services.comment_moderate(comment_id=comment.pk, action="explode", reason="x", moderator=curator)
    with pytest.raises(ValidationFailed):
        services.comment_moderate(comment_id=comment.pk, action="hide", reason=" ", moderator=curator)
    with pytest.raises(NotFound):
        services.comment_moderate(comment_id=10**9, action="hide", reason="x", moderator=curator)
    services.comment_delete(user=comment.author, comment_id=comment.pk)
    with pytest.raises(Conflict):
        services.comment_moderate(comment_id=comment.pk, action="restore", reason="", moderator=curator)
