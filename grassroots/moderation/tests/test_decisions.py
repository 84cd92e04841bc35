"""Curators' decisions: carried out by the content's own app, reports closed, every decision recorded."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.tests.factories import CuratorFactory, UserFactory, bearer_headers
from grassroots.interactions.models import Comment
from grassroots.messaging.models import Message
from grassroots.moderation import services
from grassroots.moderation.models import ModerationAction, Report
from grassroots.moderation.tests.factories import ReportFactory
from grassroots.notes.models import Note
from grassroots.notes.selectors import notes_public
from grassroots.notifications.models import Notification, NotificationKind

pytestmark = pytest.mark.django_db

API = "/api/v1/moderation"


def report(kind: str, target_id: int, *, reason: str = "spam", reporter: Any = None, owner: Any = None) -> Report:
    return ReportFactory(
        target_kind=kind,
        target_id=target_id,
        reason=reason,
        reporter=reporter or UserFactory(),
        target_owner=owner,
    )


def decide(user: Any, **payload: Any) -> Any:
    return Client().post(f"{API}/decisions", payload, content_type="application/json", **bearer_headers(user))


def moderation_notices(user: Any) -> list[Notification]:
    return list(Notification.objects.filter(recipient=user, kind=NotificationKind.MODERATION))


def test_hiding_a_note_tells_the_author_why_and_takes_it_out_of_public_reads(
    note: Any, author: Any, curator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    first = report("note", note.pk, reason="undisclosed_ad", owner=author)
    second = report("note", note.pk, reason="spam", owner=author)
    other_note_report = report("user", author.pk, owner=author)

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(
            curator, target_kind="note", target_id=note.pk, action="hide", reason="Paid promotion without the Ad label"
        )

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["action"], body["reports_closed"], body["moderator_id"]) == ("hide", 2, curator.pk)
    note.refresh_from_db()
    assert (note.moderation, note.moderation_reason) == ("hidden", "Paid promotion without the Ad label")
    assert not notes_public().filter(pk=note.pk).exists()
    [notice] = moderation_notices(author)
    assert notice.data["reason"] == "Paid promotion without the Ad label"
    for closed in (first, second):
        closed.refresh_from_db()
        assert (closed.status, closed.handled_by_id, closed.resolution) == (
            "actioned",
            curator.pk,
            "Paid promotion without the Ad label",
        )
        assert closed.handled_at is not None
    other_note_report.refresh_from_db()
    assert other_note_report.status == "open"
    action = ModerationAction.objects.get()
    assert (action.target_kind, action.target_id, action.action, action.reports_closed) == ("note", note.pk, "hide", 2)


def test_restoring_a_hidden_note_brings_it_back(note: Any, author: Any, curator: Any) -> None:
    services.moderation_decide(moderator=curator, target_kind="note", target_id=note.pk, action="hide", reason="Check")

    decision = services.moderation_decide(moderator=curator, target_kind="note", target_id=note.pk, action="restore")

    note.refresh_from_db()
    assert (note.moderation, decision.action.action) == ("visible", "restore")
    assert notes_public().filter(pk=note.pk).exists()
    assert list(
        ModerationAction.objects.filter(target_kind="note", target_id=note.pk)
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["hide", "restore"]


def test_removing_a_comment_keeps_the_count_exact_and_tells_the_author(
    note: Any, comment: Any, author: Any, curator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    open_report = report("comment", comment.pk, reason="harassment", owner=author)
    before = Note.objects.get(pk=note.pk).comment_count

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(curator, report_ids=[open_report.pk], action="remove", reason="Insults")

    assert response.status_code == 201, response.content
    comment.refresh_from_db()
    assert (comment.status, comment.moderation_reason) == ("removed", "Insults")
    assert Note.objects.get(pk=note.pk).comment_count == before - 1
    open_report.refresh_from_db()
    assert open_report.status == "actioned"
    assert moderation_notices(author)[0].data["reason"] == "Insults"

    services.moderation_decide(moderator=curator, target_kind="comment", target_id=comment.pk, action="restore")
    comment.refresh_from_db()
    assert comment.status == Comment.Status.VISIBLE
    assert Note.objects.get(pk=note.pk).comment_count == before


def test_hiding_a_message(message: Any, author: Any, reader: Any, curator: Any) -> None:
    open_report = report("message", message.pk, reporter=reader, owner=author)

    decision = services.moderation_decide(
        moderator=curator, report_ids=[open_report.pk], action="hide", reason="Unsolicited ads"
    )

    message.refresh_from_db()
    assert (message.status, message.moderation_reason) == (Message.Status.HIDDEN, "Unsolicited ads")
    assert decision.reports_closed == 1


def test_suspending_a_member_and_restoring_them(author: Any, curator: Any) -> None:
    open_report = report("user", author.pk, reason="harassment", owner=author)

    response = decide(curator, target_kind="user", target_id=author.pk, action="suspend", reason="Repeated harassment")

    assert response.status_code == 201, response.content
    assert User.objects.get(pk=author.pk).is_active is False
    open_report.refresh_from_db()
    assert (open_report.status, open_report.resolution) == ("actioned", "Repeated harassment")
    # A suspended member's content and profile can no longer be reported.
    assert (
        Client()
        .post(
            f"{API}/reports",
            {"target_kind": "user", "target_id": author.pk, "reason": "spam"},
            content_type="application/json",
            **bearer_headers(UserFactory()),
        )
        .status_code
        == 404
    )

    assert decide(curator, target_kind="user", target_id=author.pk, action="restore").status_code == 201
    assert User.objects.get(pk=author.pk).is_active is True


def test_dismissing_closes_the_reports_and_leaves_the_content(note: Any, author: Any, curator: Any) -> None:
    reports = [report("note", note.pk, owner=author) for _ in range(3)]

    response = decide(curator, target_kind="note", target_id=note.pk, action="dismiss", reason="Not an ad")

    assert response.status_code == 201
    assert response.json()["reports_closed"] == 3
    assert {r.status for r in Report.objects.filter(pk__in=[r.pk for r in reports])} == {"dismissed"}
    note.refresh_from_db()
    assert note.moderation == "visible"
    assert not moderation_notices(author)
    # Nothing left to dismiss.
    again = decide(curator, target_kind="note", target_id=note.pk, action="dismiss")
    assert again.status_code == 409
    assert ModerationAction.objects.count() == 1


def test_restoring_dismisses_reports_still_open(note: Any, author: Any, curator: Any) -> None:
    services.moderation_decide(moderator=curator, target_kind="note", target_id=note.pk, action="hide", reason="Check")
    late = report("note", note.pk, owner=author)

    services.moderation_decide(moderator=curator, target_kind="note", target_id=note.pk, action="restore")

    late.refresh_from_db()
    assert late.status == "dismissed"


def test_members_who_are_not_curators_get_a_403_and_nothing_changes(note: Any, author: Any, reader: Any) -> None:
    open_report = report("note", note.pk, owner=author)

    for payload in (
        {"target_kind": "note", "target_id": note.pk, "action": "hide", "reason": "mine"},
        {"report_ids": [open_report.pk], "action": "dismiss"},
    ):
        response = decide(reader, **payload)
        assert response.status_code == 403
        assert response.json()["code"] == "not_curator"
    note.refresh_from_db()
    open_report.refresh_from_db()
    assert (note.moderation, open_report.status) == ("visible", "open")
    assert not ModerationAction.objects.exists()
    assert Client().get(f"{API}/queue", **bearer_headers(reader)).status_code == 403
    assert Client().get(f"{API}/targets/note/{note.pk}", **bearer_headers(reader)).status_code == 403


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"action": "hide", "reason": "  "}, 422, "reason_required"),
        ({"action": "remove"}, 422, "reason_required"),
        ({"action": "suspend", "reason": "not for notes"}, 422, "invalid_action"),
        ({"action": "hide", "reason": "x" * 1001}, 422, "invalid"),
        ({"action": "ban", "reason": "x"}, 422, "invalid"),
    ],
)
def test_bad_decisions_are_4xx_and_nothing_is_written(
    payload: dict[str, Any], status: int, code: str, note: Any, author: Any, curator: Any
) -> None:
    open_report = report("note", note.pk, owner=author)

    response = decide(curator, target_kind="note", target_id=note.pk, **payload)

    assert response.status_code == status, response.content
    assert response.json()["code"] == code
    note.refresh_from_db()
    open_report.refresh_from_db()
    assert (note.moderation, note.moderation_reason, open_report.status) == ("visible", "", "open")
    assert not ModerationAction.objects.exists()


def test_a_refusal_by_the_owning_app_rolls_everything_back(note: Any, author: Any, curator: Any) -> None:
    deleted = Comment.objects.create(note=note, author=author, body="gone", status=Comment.Status.DELETED)
    open_report = report("comment", deleted.pk, owner=author)

    response = decide(curator, target_kind="comment", target_id=deleted.pk, action="hide", reason="Spam")

    assert response.status_code == 409
    open_report.refresh_from_db()
    assert open_report.status == "open"
    assert not ModerationAction.objects.exists()


def test_reports_of_different_targets_cannot_be_decided_together(note: Any, author: Any, curator: Any) -> None:
    one = report("note", note.pk, owner=author)
    two = report("user", author.pk, owner=author)

    response = decide(curator, report_ids=[one.pk, two.pk], action="dismiss")

    assert response.status_code == 422
    assert response.json()["code"] == "mixed_targets"
    assert decide(curator, report_ids=[999999], action="dismiss").status_code == 404
    assert decide(curator, target_kind="note", target_id=999999, action="hide", reason="x").status_code == 404
    assert decide(curator, action="dismiss").status_code == 422
    assert Report.objects.filter(status="open").count() == 2


def test_a_targets_history_shows_reports_and_decisions(note: Any, author: Any, curator: Any) -> None:
    report("note", note.pk, reason="spam", owner=author)
    services.moderation_decide(moderator=curator, target_kind="note", target_id=note.pk, action="hide", reason="Spam")
    report("user", author.pk, owner=author)

    body = Client().get(f"{API}/targets/note/{note.pk}", **bearer_headers(curator)).json()

    assert body["preview"]["title"] == note.title
    assert body["preview"]["state"] == "hidden"
    assert body["preview"]["moderation_reason"] == "Spam"
    assert body["open_reports"] == 0
    assert [r["status"] for r in body["reports"]] == ["actioned"]
    assert [a["action"] for a in body["actions"]] == ["hide"]
    assert Client().get(f"{API}/targets/note/424242", **bearer_headers(curator)).status_code == 404


def test_a_curator_cannot_be_suspended_by_themselves(curator: Any) -> None:
    other = CuratorFactory()
    report("user", curator.pk, owner=curator, reporter=other)

    response = decide(curator, target_kind="user", target_id=curator.pk, action="suspend", reason="x")

    assert response.status_code == 422
    assert User.objects.get(pk=curator.pk).is_active is True


def outcome_texts(user: Any) -> list[str]:
    from grassroots.notifications.selectors import notification_text

    return [
        notification_text(n) for n in Notification.objects.filter(recipient=user, kind=NotificationKind.REPORT_OUTCOME)
    ]


def test_each_reporter_hears_the_outcome_once_without_the_reason(
    note: Any, author: Any, curator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from grassroots.notifications.services import notification_preferences_set

    reporters = [UserFactory() for _ in range(3)]
    for reporter in reporters:
        report("note", note.pk, owner=author, reporter=reporter)
    notification_preferences_set(user=reporters[2], preferences={"report_outcome": False})
    earlier = report("note", note.pk, owner=author)
    Report.objects.filter(pk=earlier.pk).update(  # closed before: not told again
        status=Report.Status.DISMISSED, handled_by=curator, handled_at=timezone.now()
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = decide(curator, target_kind="note", target_id=note.pk, action="remove", reason="Counterfeit")

    assert response.status_code == 201
    for reporter in reporters[:2]:
        assert outcome_texts(reporter) == ["Thanks for your report: the note you reported was taken down."]
    assert outcome_texts(reporters[2]) == []  # switched off
    assert outcome_texts(earlier.reporter) == []
    assert not Notification.objects.filter(kind=NotificationKind.REPORT_OUTCOME, data__icontains="Counterfeit")
    assert outcome_texts(author) == []


def test_a_dismissal_and_a_suspension_tell_the_reporters_too(
    note: Any, author: Any, curator: Any, django_capture_on_commit_callbacks: Any
) -> None:
    note_reporter, member_reporter = UserFactory(), UserFactory()
    report("note", note.pk, owner=author, reporter=note_reporter)
    report("user", author.pk, owner=author, reporter=member_reporter)

    with django_capture_on_commit_callbacks(execute=True):
        assert decide(curator, target_kind="note", target_id=note.pk, action="dismiss").status_code == 201
        assert (
            decide(curator, target_kind="user", target_id=author.pk, action="suspend", reason="Fakes").status_code
            == 201
        )

    assert outcome_texts(note_reporter) == ["Thanks for your report: we reviewed it and found no breach of the rules."]
    assert outcome_texts(member_reporter) == ["Thanks for your report: the account you reported was suspended."]
