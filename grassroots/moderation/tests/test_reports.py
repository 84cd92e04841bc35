"""Reporting: each kind of target, repeats, own content, what the reporter cannot see, rate limits."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.interactions.models import Comment
from grassroots.moderation.models import Report
from grassroots.moderation.tests.factories import message_between, note_for
from grassroots.notes.models import Note

pytestmark = pytest.mark.django_db

API = "/api/v1/moderation"
KINDS = ["note", "comment", "message", "user"]


def post_report(user: Any, kind: str, target_id: int, reason: str = "spam", details: str = "") -> Any:
    return Client().post(
        f"{API}/reports",
        {"target_kind": kind, "target_id": target_id, "reason": reason, "details": details},
        content_type="application/json",
        **bearer_headers(user),
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_member_reports_each_kind_of_target(kind: str, targets: dict[str, int], reader: Any, author: Any) -> None:
    response = post_report(reader, kind, targets[kind], reason="harassment", details="  Keeps <b>pushing</b>  ")

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["target_kind"], body["target_id"], body["reason"], body["status"]) == (
        kind,
        targets[kind],
        "harassment",
        "open",
    )
    assert body["details"] == "Keeps <b>pushing</b>"  # plain text, escaped wherever it is shown
    report = Report.objects.get()
    assert (report.reporter_id, report.target_owner_id, report.handled_at) == (reader.pk, author.pk, None)


def test_a_repeat_while_open_returns_the_same_report(note: Any, reader: Any) -> None:
    first = post_report(reader, "note", note.pk)
    again = post_report(reader, "note", note.pk, reason="other", details="again")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["reason"] == "spam"
    assert Report.objects.count() == 1
    # Someone else reporting the same note is a second report.
    assert post_report(UserFactory(), "note", note.pk).status_code == 201
    assert Report.objects.count() == 2


def test_after_a_decision_the_same_member_can_report_again(note: Any, reader: Any) -> None:
    first = post_report(reader, "note", note.pk)
    Report.objects.filter(pk=first.json()["id"]).update(status="dismissed", handled_at=note.published_at)

    again = post_report(reader, "note", note.pk)

    assert again.status_code == 201
    assert Report.objects.count() == 2


@pytest.mark.parametrize("kind", KINDS)
def test_own_content_and_oneself_are_a_422(kind: str, targets: dict[str, int], author: Any) -> None:
    response = post_report(author, kind, targets[kind])

    assert response.status_code == 422
    assert response.json()["code"] == "own_content"
    assert not Report.objects.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_a_target_that_does_not_exist_is_a_404(kind: str, reader: Any) -> None:
    response = post_report(reader, kind, 987654)

    assert response.status_code == 404
    assert not Report.objects.exists()


def test_content_the_reporter_cannot_see_is_a_404(author: Any, reader: Any) -> None:
    draft = note_for(author, status=Note.Status.DRAFT, published_at=None)
    hidden = note_for(author, moderation=Note.Moderation.HIDDEN)
    deleted = note_for(author, status=Note.Status.DELETED)
    public = note_for(author)
    removed_comment = Comment.objects.create(note=public, author=author, body="x", status=Comment.Status.REMOVED)
    comment_on_hidden = Comment.objects.create(note=hidden, author=author, body="x")
    suspended = UserFactory(is_active=False)

    for kind, target_id in [
        ("note", draft.pk),
        ("note", hidden.pk),
        ("note", deleted.pk),
        ("comment", removed_comment.pk),
        ("comment", comment_on_hidden.pk),
        ("user", suspended.pk),
    ]:
        assert post_report(reader, kind, target_id).status_code == 404, (kind, target_id)
    assert not Report.objects.exists()


def test_a_message_can_be_reported_only_by_a_participant(message: Any, reader: Any) -> None:
    outsider = UserFactory()

    response = post_report(outsider, "message", message.pk)

    assert response.status_code == 404
    assert not Report.objects.exists()
    assert post_report(reader, "message", message.pk).status_code == 201


def test_a_member_cannot_report_their_own_message_in_a_conversation(reader: Any, author: Any) -> None:
    mine = message_between(reader, author, "my words")

    assert post_report(reader, "message", mine.pk).status_code == 422
    assert not Report.objects.exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"reason": "boring"}, "reason"),
        ({"details": "x" * 1001}, "details"),
        ({"target_kind": "shop"}, "target_kind"),
        ({"target_id": 0}, "target_id"),
    ],
)
def test_bad_input_is_a_422_and_nothing_is_written(payload: dict[str, Any], field: str, note: Any, reader: Any) -> None:
    data = {"target_kind": "note", "target_id": note.pk, "reason": "spam", "details": "", **payload}
    response = Client().post(f"{API}/reports", data, content_type="application/json", **bearer_headers(reader))

    assert response.status_code == 422
    assert field in response.json()["fields"]
    assert not Report.objects.exists()


def test_reports_are_rate_limited_per_member_with_retry_after(settings: Any, author: Any, reader: Any) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "REPORTS_PER_HOUR": 2}
    notes = [note_for(author, title=f"n{i}") for i in range(3)]
    assert post_report(reader, "note", notes[0].pk).status_code == 201
    assert post_report(reader, "note", notes[1].pk).status_code == 201

    response = post_report(reader, "note", notes[2].pk)

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 3600
    assert Report.objects.count() == 2
    # A repeat of an open report is not a new report and is not refused.
    assert post_report(reader, "note", notes[0].pk).status_code == 200
    # Another member has their own allowance.
    assert post_report(UserFactory(), "note", notes[2].pk).status_code == 201


def test_anonymous_callers_get_a_401(note: Any) -> None:
    response = Client().post(
        f"{API}/reports",
        {"target_kind": "note", "target_id": note.pk, "reason": "spam"},
        content_type="application/json",
    )
    assert response.status_code == 401
    assert not Report.objects.exists()


def test_my_reports_lists_only_mine_newest_first(targets: dict[str, int], reader: Any) -> None:
    for kind in KINDS:
        post_report(reader, kind, targets[kind])
    post_report(UserFactory(), "note", targets["note"])
    headers = bearer_headers(reader)

    first = Client().get(f"{API}/reports/mine?limit=3", **headers).json()
    second = Client().get(f"{API}/reports/mine?limit=3&cursor={first['next_cursor']}", **headers).json()

    kinds = [item["target_kind"] for item in first["items"] + second["items"]]
    assert kinds == ["user", "message", "comment", "note"]
    assert second["next_cursor"] is None
