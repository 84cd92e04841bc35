from __future__ import annotations

import pytest

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory
from grassroots.interactions import selectors, services
from grassroots.interactions.tests.factories import NoteFactory
from grassroots.notes.models import Note
from grassroots.social.models import Block, Mute

pytestmark = pytest.mark.django_db


def thread(note: Note, *, tops: int, replies: int) -> list[int]:
    ids = []
    for i in range(tops):
        top = services.comment_create(user=UserFactory(), note_id=note.pk, body=f"top {i}")
        ids.append(top.pk)
        for j in range(replies):
            services.comment_create(user=UserFactory(), note_id=note.pk, body=f"reply {j}", parent_id=top.pk)
    return ids


@pytest.mark.parametrize(("tops", "replies"), [(2, 1), (12, 5)])
def test_comment_page_costs_fixed_queries(django_assert_max_num_queries, tops, replies):
    note = NoteFactory()
    thread(note, tops=tops, replies=replies)
    viewer = UserFactory()
    with django_assert_max_num_queries(3):
        page = selectors.comments_for_note(note_id=note.pk, viewer_id=viewer.pk, limit=10)
        for comment in page:
            _ = comment.author.handle
            for reply in comment.preview_replies:
                _ = reply.author.handle
    assert len(page) == min(tops, 10)
    assert all(len(c.preview_replies) == min(replies, selectors.REPLIES_PREVIEW) for c in page)


def test_comment_pages_follow_the_cursor_oldest_first():
    note = NoteFactory()
    ids = thread(note, tops=5, replies=0)
    first = selectors.comments_for_note(note_id=note.pk, viewer_id=None, limit=2)
    second = selectors.comments_for_note(note_id=note.pk, viewer_id=None, limit=2, cursor=first.next_cursor)
    third = selectors.comments_for_note(note_id=note.pk, viewer_id=None, limit=2, cursor=second.next_cursor)
    assert [c.pk for c in [*first, *second, *third]] == ids
    assert third.next_cursor is None


def test_hidden_authors_are_filtered_for_the_viewer_only():
    note = NoteFactory()
    viewer, blocked, muted, blocker, friend = (UserFactory() for _ in range(5))
    Block.objects.create(blocker=viewer, blocked=blocked)
    Block.objects.create(blocker=blocker, blocked=viewer)
    Mute.objects.create(muter=viewer, muted=muted)
    tops = {}
    for user in (blocked, muted, friend):
        tops[user.pk] = services.comment_create(user=user, note_id=note.pk, body="hi")
    # a blocker comments before blocking... simulate by writing the row through the service first
    Block.objects.filter(blocker=blocker).delete()
    services.comment_create(user=blocker, note_id=note.pk, body="reply", parent_id=tops[friend.pk].pk)
    Block.objects.create(blocker=blocker, blocked=viewer)

    page = selectors.comments_for_note(note_id=note.pk, viewer_id=viewer.pk)
    assert [c.author_id for c in page] == [friend.pk]
    assert page.items[0].preview_replies == []

    everyone = selectors.comments_for_note(note_id=note.pk, viewer_id=UserFactory().pk)
    assert len(everyone) == 3 and len(everyone.items[2].preview_replies) == 1


def test_deleted_top_level_with_replies_stays_as_placeholder_and_own_hidden_is_shown_to_author():
    note = NoteFactory()
    writer = UserFactory()
    top = services.comment_create(user=writer, note_id=note.pk, body="top")
    services.comment_create(user=UserFactory(), note_id=note.pk, body="reply", parent_id=top.pk)
    lonely = services.comment_create(user=writer, note_id=note.pk, body="lonely")
    services.comment_delete(user=writer, comment_id=top.pk)
    services.comment_delete(user=writer, comment_id=lonely.pk)
    hidden = services.comment_create(user=writer, note_id=note.pk, body="borderline")
    services.comment_moderate(comment_id=hidden.pk, action="hide", reason="Check", moderator=CuratorFactory())

    others = selectors.comments_for_note(note_id=note.pk, viewer_id=None)
    assert [c.pk for c in others] == [top.pk]
    mine = selectors.comments_for_note(note_id=note.pk, viewer_id=writer.pk)
    assert [c.pk for c in mine] == [top.pk, hidden.pk]


def test_viewer_state_in_one_query_each(django_assert_num_queries):
    notes = [NoteFactory() for _ in range(4)]
    viewer = UserFactory()
    services.like_add(user=viewer, note_id=notes[0].pk)
    services.collect_add(user=viewer, note_id=notes[1].pk)
    services.collect_add(user=viewer, note_id=notes[0].pk)
    ids = [n.pk for n in notes]
    with django_assert_num_queries(2):
        state = selectors.interactions_viewer_state(viewer_id=viewer.pk, note_ids=ids)
    assert state[notes[0].pk] == {"liked": True, "collected": True}
    assert state[notes[1].pk] == {"liked": False, "collected": True}
    assert state[notes[3].pk] == {"liked": False, "collected": False}
    with django_assert_num_queries(0):
        anonymous = selectors.interactions_viewer_state(viewer_id=None, note_ids=ids)
    assert not any(v["liked"] or v["collected"] for v in anonymous.values())


def test_collection_items_only_public_notes_with_fixed_queries(django_assert_max_num_queries):
    reader = UserFactory()
    notes = [NoteFactory() for _ in range(5)]
    for note in notes:
        services.collect_add(user=reader, note_id=note.pk)
    Note.objects.filter(pk=notes[0].pk).update(moderation=Note.Moderation.REMOVED)
    Note.objects.filter(pk=notes[1].pk).update(status=Note.Status.DELETED)
    collection = services.collection_default(user=reader)
    with django_assert_max_num_queries(9):
        items, next_cursor = selectors.collection_items(collection=collection, viewer_id=reader.pk, limit=2)
        for item in items:
            _ = (item.note.author.handle, list(item.note.images.all()), item.note.viewer_liked)
    assert [i.note_id for i in items] == [notes[4].pk, notes[3].pk]
    rest, end = selectors.collection_items(collection=collection, viewer_id=reader.pk, cursor=next_cursor, limit=2)
    assert [i.note_id for i in rest] == [notes[2].pk] and end is None
