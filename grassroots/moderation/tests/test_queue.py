"""The curators' queue: grouped by target, oldest waiting first, cursor pages at a fixed query cost."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.moderation import services
from grassroots.moderation.tests.factories import ReportFactory, comment_on, message_between, note_for

pytestmark = pytest.mark.django_db

API = "/api/v1/moderation"
QUEUE_QUERIES = 11  # auth (token, its last use, two permission reads) + group, reasons, latest, one preview per kind


def fill_queue(author: Any, reader: Any, *, rounds: int) -> list[tuple[str, int]]:
    """`rounds` targets of each kind, each reported by two members with different reasons."""
    keys: list[tuple[str, int]] = []
    for i in range(rounds):
        note = note_for(author, title=f"Note {i}")
        comment = comment_on(note, author, body=f"Comment {i}")
        message = message_between(author, reader, body=f"Message {i}")
        person = UserFactory()
        for kind, target_id, owner in (
            ("note", note.pk, author),
            ("comment", comment.pk, author),
            ("message", message.pk, author),
            ("user", person.pk, person),
        ):
            ReportFactory(target_kind=kind, target_id=target_id, target_owner=owner, reason="spam")
            ReportFactory(
                target_kind=kind, target_id=target_id, target_owner=owner, reason="harassment", details=f"{kind} {i}"
            )
            keys.append((kind, target_id))
    return keys


def test_the_queue_groups_open_reports_by_target_with_previews(author: Any, reader: Any, curator: Any) -> None:
    keys = fill_queue(author, reader, rounds=1)
    headers = bearer_headers(curator)

    body = Client().get(f"{API}/queue", **headers).json()

    assert [(item["target_kind"], item["target_id"]) for item in body["items"]] == keys
    note_item, comment_item, message_item, user_item = body["items"]
    assert note_item["report_count"] == 2
    assert [r["reason"] for r in note_item["reasons"]] == ["harassment", "spam"]  # latest first
    assert note_item["latest_details"] == "note 0"
    assert (note_item["preview"]["title"], note_item["preview"]["author_id"]) == ("Note 0", author.pk)
    assert comment_item["preview"]["text"] == "Comment 0"
    assert comment_item["preview"]["context"] == "Note 0"
    assert message_item["preview"]["text"] == "Message 0"  # curators only: the queue is theirs
    assert user_item["preview"]["state"] == "active"


def test_decided_targets_leave_the_queue(note: Any, author: Any, curator: Any) -> None:
    ReportFactory(target_kind="note", target_id=note.pk, target_owner=author)
    ReportFactory(target_kind="user", target_id=author.pk, target_owner=author)
    headers = bearer_headers(curator)

    services.moderation_decide(moderator=curator, target_kind="note", target_id=note.pk, action="dismiss")

    body = Client().get(f"{API}/queue", **headers).json()
    assert [(i["target_kind"], i["target_id"]) for i in body["items"]] == [("user", author.pk)]
    assert Client().get(f"{API}/queue?kind=note", **headers).json()["items"] == []


def test_queue_pages_walk_every_target_once_at_a_fixed_query_cost(
    author: Any, reader: Any, curator: Any, django_assert_max_num_queries: Any
) -> None:
    keys = fill_queue(author, reader, rounds=3)
    headers = bearer_headers(curator)

    seen: list[tuple[str, int]] = []
    cursor = ""
    while True:
        with django_assert_max_num_queries(QUEUE_QUERIES):
            body = Client().get(f"{API}/queue?limit=5{'&cursor=' + cursor if cursor else ''}", **headers).json()
        seen += [(item["target_kind"], item["target_id"]) for item in body["items"]]
        if not body["next_cursor"]:
            break
        cursor = body["next_cursor"]
    assert seen == keys

    with django_assert_max_num_queries(QUEUE_QUERIES):
        body = Client().get(f"{API}/queue?limit=100", **headers).json()
    assert len(body["items"]) == len(keys)


def test_the_queue_page_costs_the_same_with_more_targets(author: Any, reader: Any, curator: Any) -> None:
    """The page's own queries do not grow with the queue (the header's counters are the base template's)."""
    client = Client()
    client.force_login(curator)
    fill_queue(author, reader, rounds=1)
    client.get("/moderation/")  # the first request of a session does one-off work
    with CaptureQueriesContext(connection) as small:
        assert client.get("/moderation/").status_code == 200

    fill_queue(author, reader, rounds=6)
    with CaptureQueriesContext(connection) as large:
        response = client.get("/moderation/")

    assert response.content.count(b'class="mod-item"') == 28
    assert len(large) == len(small)


def test_a_bad_cursor_or_limit_is_a_422(curator: Any) -> None:
    headers = bearer_headers(curator)
    assert Client().get(f"{API}/queue?cursor=nonsense", **headers).status_code == 422
    assert Client().get(f"{API}/queue?limit=0", **headers).status_code == 422
    assert Client().get(f"{API}/queue?kind=shop", **headers).status_code == 422
