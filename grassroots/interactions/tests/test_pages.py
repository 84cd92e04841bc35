from __future__ import annotations

from typing import Any

import pytest
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.interactions import selectors, services
from grassroots.interactions.models import Collection, Comment, Like
from grassroots.interactions.tests.factories import NoteFactory
from grassroots.notes.models import Note

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def note_page(note: Note) -> str:
    return services.note_url(note.pk)


def render_partial(name: str, user: Any, **context: Any) -> str:
    request = RequestFactory().get("/somewhere/?x=1")
    request.user = user
    return render_to_string(f"interactions/{name}", context, request=request)


# --- partials -------------------------------------------------------------------------------------


def test_actions_partial_for_anonymous_and_members(django_assert_max_num_queries):
    from django.contrib.auth.models import AnonymousUser

    note = NoteFactory()
    anonymous = render_partial("_note_actions.html", AnonymousUser(), note=note)
    assert "/accounts/" in anonymous and "<form" not in anonymous
    assert f"{note_page(note)}#comments" in anonymous

    member = UserFactory()
    with django_assert_max_num_queries(0):
        html = render_partial("_note_actions.html", member, note=note, viewer_liked=True, viewer_collected=False)
    assert f"/interactions/notes/{note.pk}/unlike/" in html
    assert f"/interactions/notes/{note.pk}/collect/" in html
    assert 'name="next" value="/somewhere/?x=1"' in html

    services.collect_add(user=member, note_id=note.pk)
    with django_assert_max_num_queries(2):  # no state given: looked up for this note
        looked_up = render_partial("_note_actions.html", member, note=note)
    assert f"/interactions/notes/{note.pk}/uncollect/" in looked_up
    assert f"/interactions/notes/{note.pk}/like/" in looked_up


def test_comments_partial_renders_thread_escaped():
    note = NoteFactory()
    writer = UserFactory()
    top = services.comment_create(user=writer, note_id=note.pk, body="<script>alert(1)</script> first")
    services.comment_create(user=UserFactory(), note_id=note.pk, body="reply here", parent_id=top.pk)
    comments = selectors.comments_for_note(note_id=note.pk, viewer_id=writer.pk)
    html = render_partial("_comments.html", writer, note=note, comments=comments)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "reply here" in html
    assert f'id="comment-{top.pk}"' in html
    assert f"/interactions/comments/{top.pk}/delete/" in html  # own comment
    assert f"/interactions/comments/{top.pk}/reply/" in html


# --- likes and collects without JavaScript and with htmx -------------------------------------------


def test_like_without_js_redirects_back_and_with_htmx_swaps_the_bar():
    note = NoteFactory()
    reader = UserFactory()
    client = as_user(reader)

    response = client.post(f"/interactions/notes/{note.pk}/like/", {"next": "/feed/"})
    assert response.status_code == 302 and response["Location"] == "/feed/"
    assert Like.objects.filter(user=reader, note=note).exists()

    swapped = client.post(f"/interactions/notes/{note.pk}/unlike/", {"next": "/feed/"}, **HTMX)
    assert swapped.status_code == 200
    html = swapped.content.decode()
    assert f'id="note-actions-{note.pk}"' in html and f"/interactions/notes/{note.pk}/like/" in html
    assert "<html" not in html
    assert not Like.objects.exists()

    evil = client.post(f"/interactions/notes/{note.pk}/like/", {"next": "https://evil.example/"})
    assert evil["Location"] == note_page(note)


def test_like_requires_login_and_post():
    note = NoteFactory()
    assert Client().post(f"/interactions/notes/{note.pk}/like/").status_code == 302
    assert as_user(UserFactory()).get(f"/interactions/notes/{note.pk}/like/").status_code == 405
    assert as_user(UserFactory()).post("/interactions/notes/999999/like/").status_code == 404
    assert not Like.objects.exists()


def test_like_on_deleted_note_shows_message():
    note = NoteFactory(status=Note.Status.DELETED, deleted_at=timezone.now())
    client = as_user(UserFactory())
    response = client.post(f"/interactions/notes/{note.pk}/like/", {"next": "/interactions/collections/"}, follow=True)
    assert any("no longer available" in str(m) for m in response.context["messages"])
    assert not Like.objects.exists()


def test_collect_picker_and_new_collection():
    note = NoteFactory()
    reader = UserFactory()
    client = as_user(reader)
    picker = client.get(f"/interactions/notes/{note.pk}/collect/")
    assert picker.status_code == 200

    client.post(f"/interactions/notes/{note.pk}/collect/", {"new_name": "Gifts"})
    gifts = Collection.objects.get(owner=reader, name="Gifts")
    assert gifts.item_count == 1
    client.post(f"/interactions/notes/{note.pk}/collect/")
    note.refresh_from_db()
    assert note.collect_count == 1
    assert Collection.objects.filter(owner=reader).count() == 2

    swapped = client.post(f"/interactions/notes/{note.pk}/uncollect/", **HTMX)
    assert swapped.status_code == 200
    note.refresh_from_db()
    assert note.collect_count == 0


# --- comments -------------------------------------------------------------------------------------


def test_comment_reply_delete_without_js():
    note = NoteFactory()
    writer = UserFactory()
    client = as_user(writer)
    back = f"{note_page(note)}#comments"

    response = client.post(f"/interactions/notes/{note.pk}/comment/", {"body": "Lovely"})
    assert response.status_code == 302 and response["Location"] == back
    top = Comment.objects.get()
    response = as_user(UserFactory()).post(f"/interactions/comments/{top.pk}/reply/", {"body": "Agreed"})
    assert response.status_code == 302
    assert Comment.objects.filter(parent=top).count() == 1

    response = client.post(f"/interactions/comments/{top.pk}/delete/")
    assert response.status_code == 302
    top.refresh_from_db()
    assert top.status == Comment.Status.DELETED


def test_comment_with_htmx_swaps_thread_and_shows_errors_inline():
    note = NoteFactory()
    client = as_user(UserFactory())
    swapped = client.post(f"/interactions/notes/{note.pk}/comment/", {"body": "Hello there"}, **HTMX)
    html = swapped.content.decode()
    assert swapped.status_code == 200 and 'id="comments"' in html and "Hello there" in html

    too_long = client.post(f"/interactions/notes/{note.pk}/comment/", {"body": "x" * 1001}, **HTMX)
    assert 'role="alert"' in too_long.content.decode()
    assert Comment.objects.count() == 1


def test_comment_on_deleted_note_page_writes_nothing():
    note = NoteFactory(status=Note.Status.DELETED, deleted_at=timezone.now())
    response = as_user(UserFactory()).post(
        f"/interactions/notes/{note.pk}/comment/", {"body": "x", "next": "/interactions/collections/"}, follow=True
    )
    assert response.status_code == 200
    assert any("no longer available" in str(m) for m in response.context["messages"])
    assert not Comment.objects.exists()


def test_comments_and_replies_pages(django_assert_max_num_queries):
    note = NoteFactory()
    tops = []
    for i in range(3):
        top = services.comment_create(user=UserFactory(), note_id=note.pk, body=f"top {i}")
        tops.append(top)
        for j in range(5):
            services.comment_create(user=UserFactory(), note_id=note.pk, body=f"r{i}.{j}", parent_id=top.pk)
    client = Client()
    with django_assert_max_num_queries(6):
        page = client.get(f"/interactions/notes/{note.pk}/comments/")
    assert page.status_code == 200 and "top 2" in page.content.decode()
    assert f"/interactions/comments/{tops[0].pk}/replies/" in page.content.decode()
    replies = client.get(f"/interactions/comments/{tops[0].pk}/replies/")
    assert "r0.4" in replies.content.decode()
    hidden = NoteFactory(moderation=Note.Moderation.REMOVED)
    assert client.get(f"/interactions/notes/{hidden.pk}/comments/").status_code == 404


# --- collections pages ----------------------------------------------------------------------------


def test_collections_pages_create_rename_delete():
    reader = UserFactory()
    client = as_user(reader)
    assert client.get("/interactions/collections/").status_code == 200
    response = client.post("/interactions/collections/", {"name": "Trips"})
    trips = Collection.objects.get(owner=reader)
    assert response.status_code == 302 and response["Location"] == f"/interactions/collections/{trips.pk}/"
    dup = client.post("/interactions/collections/", {"name": "Trips"})
    assert dup.status_code == 409 and 'role="alert"' in dup.content.decode()

    for _ in range(3):
        services.collect_add(user=reader, note_id=NoteFactory().pk, collection_id=trips.pk)
    detail = client.get(f"/interactions/collections/{trips.pk}/")
    assert detail.status_code == 200

    client.post(f"/interactions/collections/{trips.pk}/rename/", {"name": "Holidays"})
    trips.refresh_from_db()
    assert trips.name == "Holidays"
    client.post(f"/interactions/collections/{trips.pk}/delete/")
    assert not Collection.objects.exists()


def test_collection_detail_query_count_does_not_grow_with_items(django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reader = UserFactory()
    client = as_user(reader)
    trips = services.collection_create(user=reader, name="Trips")
    services.collect_add(user=reader, note_id=NoteFactory().pk, collection_id=trips.pk)
    with CaptureQueriesContext(connection) as one:
        client.get(f"/interactions/collections/{trips.pk}/")
    for _ in range(6):
        services.collect_add(user=reader, note_id=NoteFactory().pk, collection_id=trips.pk)
    # session, user, collection, hidden authors, items, images, products, liked, collected + the header
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(f"/interactions/collections/{trips.pk}/")
    assert response.status_code == 200
    assert response.content.decode().count('class="note-actions"') == 7


def test_someone_elses_collection_pages_are_404():
    theirs = services.collection_create(user=UserFactory(), name="Private")
    client = as_user(UserFactory())
    assert client.get(f"/interactions/collections/{theirs.pk}/").status_code == 404
    assert client.post(f"/interactions/collections/{theirs.pk}/rename/", {"name": "x"}).status_code == 404
    assert client.post(f"/interactions/collections/{theirs.pk}/delete/").status_code == 404
    assert Collection.objects.filter(pk=theirs.pk, name="Private").exists()


def test_note_page_and_card_include_the_partials():
    """The note page (notes app) renders the action bar and the comment thread from this app."""
    note = NoteFactory()
    services.comment_create(user=UserFactory(), note_id=note.pk, body="Looks good @nobody")
    reader = UserFactory()
    services.like_add(user=reader, note_id=note.pk)
    response = as_user(reader).get(note_page(note))
    if response.status_code == 404:
        pytest.skip("the note page is not available")
    html = response.content.decode()
    assert f'id="note-actions-{note.pk}"' in html
    assert f"/interactions/notes/{note.pk}/unlike/" in html
    assert 'id="comments"' in html and "Looks good" in html
