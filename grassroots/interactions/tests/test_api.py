from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.interactions import services
from grassroots.interactions.models import Collection, CollectionItem, Comment, Like
from grassroots.interactions.tests.factories import NoteFactory
from grassroots.notes.models import Note
from grassroots.social.models import Block

pytestmark = pytest.mark.django_db

API = "/api/v1/interactions"


class Api:
    def __init__(self, user: Any) -> None:
        self.client = Client()
        self.headers = bearer_headers(user)

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(API + path, params, **self.headers)

    def post(self, path: str, data: Any = None) -> Any:
        return self.client.post(API + path, data or {}, content_type="application/json", **self.headers)

    def patch(self, path: str, data: Any) -> Any:
        return self.client.patch(API + path, data, content_type="application/json", **self.headers)

    def delete(self, path: str) -> Any:
        return self.client.delete(API + path, **self.headers)


def error_of(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    return response.status_code, body["code"]


# --- likes ----------------------------------------------------------------------------------------


def test_like_and_unlike():
    note = NoteFactory()
    api = Api(UserFactory())
    first = api.post(f"/notes/{note.pk}/like")
    again = api.post(f"/notes/{note.pk}/like")
    assert first.status_code == 200 and first.json() == {
        "note_id": note.pk,
        "liked": True,
        "changed": True,
        "like_count": 1,
    }
    assert again.json()["changed"] is False and again.json()["like_count"] == 1
    gone = api.delete(f"/notes/{note.pk}/like")
    assert gone.json()["like_count"] == 0 and gone.json()["liked"] is False


def test_like_needs_authentication():
    note = NoteFactory()
    assert error_of(Client().post(f"{API}/notes/{note.pk}/like")) == (401, "unauthenticated")
    assert not Like.objects.exists()


def test_blocked_reader_gets_403():
    note = NoteFactory()
    reader = UserFactory()
    Block.objects.create(blocker=note.author, blocked=reader)
    api = Api(reader)
    assert error_of(api.post(f"/notes/{note.pk}/like")) == (403, "blocked")
    assert error_of(api.post(f"/notes/{note.pk}/collect")) == (403, "blocked")
    assert error_of(api.post(f"/notes/{note.pk}/comments", {"body": "hi"})) == (403, "blocked")
    assert error_of(api.get(f"/notes/{note.pk}/comments")) == (403, "blocked")
    assert not Like.objects.exists() and not Comment.objects.exists() and not CollectionItem.objects.exists()


def test_viewer_state():
    notes = [NoteFactory(), NoteFactory()]
    reader = UserFactory()
    services.like_add(user=reader, note_id=notes[0].pk)
    api = Api(reader)
    state = api.get("/state", note_ids=f"{notes[0].pk},{notes[1].pk}").json()
    assert state == [
        {"note_id": notes[0].pk, "liked": True, "collected": False},
        {"note_id": notes[1].pk, "liked": False, "collected": False},
    ]
    assert error_of(api.get("/state", note_ids="1,x")) == (422, "invalid")
    assert error_of(api.get("/state", note_ids="1," + "9" * 20)) == (422, "invalid")  # past a 64-bit id
    assert error_of(api.get("/state", note_ids="\u00b2")) == (422, "invalid")


# --- collections ----------------------------------------------------------------------------------


def test_collections_crud_and_items():
    reader = UserFactory()
    api = Api(reader)
    note = NoteFactory()

    created = api.post("/collections", {"name": "Trips"})
    assert created.status_code == 201
    cid = created.json()["id"]
    assert error_of(api.post("/collections", {"name": "Trips"})) == (409, "collection_name_taken")
    assert error_of(api.post("/collections", {"name": "x" * 41})) == (422, "name_too_long")
    assert error_of(api.post("/collections", {})) == (422, "invalid")

    added = api.post(f"/collections/{cid}/items", {"note_id": note.pk})
    assert added.status_code == 201 and added.json()["collect_count"] == 1
    assert api.post(f"/collections/{cid}/items", {"note_id": note.pk}).status_code == 200

    quick = api.post(f"/notes/{note.pk}/collect")
    assert quick.status_code == 201 and quick.json()["collection"]["is_default"] is True
    assert quick.json()["collect_count"] == 1

    listing = api.get("/collections").json()
    assert [c["name"] for c in listing] == ["Saved", "Trips"]
    items = api.get(f"/collections/{cid}/items").json()
    assert [i["note"]["id"] for i in items["items"]] == [note.pk] and items["next_cursor"] is None

    assert api.patch(f"/collections/{cid}", {"name": "Holidays"}).json()["name"] == "Holidays"
    assert api.delete(f"/collections/{cid}/items/{note.pk}").status_code == 204
    gone = api.delete(f"/notes/{note.pk}/collect")
    assert gone.json() == {"note_id": note.pk, "removed": 1, "collect_count": 0}
    assert api.delete(f"/collections/{cid}").status_code == 204
    assert error_of(api.get(f"/collections/{cid}")) == (404, "collection_not_found")


def test_someone_elses_collection_is_404():
    owner = UserFactory()
    theirs = services.collection_create(user=owner, name="Private")
    services.collect_add(user=owner, note_id=NoteFactory().pk, collection_id=theirs.pk)
    api = Api(UserFactory())
    note = NoteFactory()
    for response in (
        api.get(f"/collections/{theirs.pk}"),
        api.get(f"/collections/{theirs.pk}/items"),
        api.patch(f"/collections/{theirs.pk}", {"name": "Mine"}),
        api.delete(f"/collections/{theirs.pk}"),
        api.post(f"/collections/{theirs.pk}/items", {"note_id": note.pk}),
        api.post(f"/notes/{note.pk}/collect", {"collection_id": theirs.pk}),
    ):
        assert error_of(response) == (404, "collection_not_found")
    theirs.refresh_from_db()
    assert theirs.name == "Private" and theirs.item_count == 1
    assert not CollectionItem.objects.filter(note=note).exists()


# --- comments -------------------------------------------------------------------------------------


def test_comment_reply_list_and_delete():
    note = NoteFactory()
    alice, bob = UserFactory(), UserFactory()
    top = Api(alice).post(f"/notes/{note.pk}/comments", {"body": "Where from?"})
    assert top.status_code == 201
    reply = Api(bob).post(f"/comments/{top.json()['id']}/replies", {"body": "Same"})
    assert reply.status_code == 201 and reply.json()["parent_id"] == top.json()["id"]

    listing = Client().get(f"{API}/notes/{note.pk}/comments").json()
    assert [c["body"] for c in listing["items"]] == ["Where from?"]
    assert [r["body"] for r in listing["items"][0]["replies"]] == ["Same"]
    replies = Client().get(f"{API}/comments/{top.json()['id']}/replies").json()
    assert [r["id"] for r in replies["items"]] == [reply.json()["id"]]

    assert error_of(Api(bob).delete(f"/comments/{top.json()['id']}")) == (403, "forbidden")
    assert Api(note.author).delete(f"/comments/{top.json()['id']}").status_code == 204
    note.refresh_from_db()
    assert note.comment_count == 1


def test_comment_on_deleted_note_is_409_and_writes_nothing():
    note = NoteFactory(status=Note.Status.DELETED, deleted_at=timezone.now())
    response = Api(UserFactory()).post(f"/notes/{note.pk}/comments", {"body": "hello"})
    assert error_of(response) == (409, "note_unavailable")
    assert error_of(Api(UserFactory()).post(f"/notes/{10**9}/comments", {"body": "x"})) == (404, "note_not_found")
    assert not Comment.objects.exists()


def test_script_tag_is_sanitised():
    note = NoteFactory()
    response = Api(UserFactory()).post(f"/notes/{note.pk}/comments", {"body": "<script>alert(1)</script>hi"})
    assert response.status_code == 201
    assert "<script" not in response.json()["body_html"]
    listing = Client().get(f"{API}/notes/{note.pk}/comments").json()
    assert "<script" not in listing["items"][0]["body_html"]


def test_reply_depth_too_long_and_empty():
    note = NoteFactory()
    api = Api(UserFactory())
    top = api.post(f"/notes/{note.pk}/comments", {"body": "top"}).json()
    reply = api.post(f"/comments/{top['id']}/replies", {"body": "reply"}).json()
    assert error_of(api.post(f"/comments/{reply['id']}/replies", {"body": "deeper"})) == (422, "reply_depth")
    assert error_of(api.post(f"/notes/{note.pk}/comments", {"body": "x" * 1001})) == (422, "body_too_long")
    assert error_of(api.post(f"/notes/{note.pk}/comments", {"body": " "})) == (422, "body_required")
    assert error_of(api.post(f"/notes/{note.pk}/comments", {"text": "wrong field"})) == (422, "invalid")
    assert error_of(api.get(f"/notes/{note.pk}/comments", cursor="%%%")) == (422, "invalid_cursor")
    assert Comment.objects.count() == 2


def test_rate_limit_is_429_with_retry_after(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "COMMENTS_PER_HOUR": 1}
    note = NoteFactory()
    api = Api(UserFactory())
    assert api.post(f"/notes/{note.pk}/comments", {"body": "one"}).status_code == 201
    limited = api.post(f"/notes/{note.pk}/comments", {"body": "two"})
    assert error_of(limited) == (429, "rate_limited")
    assert int(limited["Retry-After"]) > 0
    assert Comment.objects.count() == 1


def test_comments_of_hidden_note_are_404_except_for_its_author():
    note = NoteFactory(moderation=Note.Moderation.HIDDEN)
    assert error_of(Client().get(f"{API}/notes/{note.pk}/comments")) == (404, "note_not_found")
    assert Api(note.author).get(f"/notes/{note.pk}/comments").status_code == 200


def test_comments_list_costs_fixed_queries(django_assert_max_num_queries):
    note = NoteFactory()
    for i in range(8):
        top = services.comment_create(user=UserFactory(), note_id=note.pk, body=f"top {i}")
        for j in range(4):
            services.comment_create(user=UserFactory(), note_id=note.pk, body=f"r {j}", parent_id=top.pk)
    reader = UserFactory()
    headers = bearer_headers(reader)
    client = Client()
    # token lookup (+ last-used touch) + note + hidden authors + top level + replies
    with django_assert_max_num_queries(7):
        response = client.get(f"{API}/notes/{note.pk}/comments", {"limit": 20}, **headers)
    assert len(response.json()["items"]) == 8
    with django_assert_max_num_queries(4):
        anonymous = Client().get(f"{API}/notes/{note.pk}/comments")
    assert len(anonymous.json()["items"]) == 8


def test_collection_is_private_and_not_listed_for_others():
    owner = UserFactory()
    services.collection_create(user=owner, name="Private")
    assert Api(UserFactory()).get("/collections").json() == []
    assert Collection.objects.count() == 1
