"""The pages: the report form (no JavaScript needed), the curators' queue and decision page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from grassroots.accounts.tests.factories import UserFactory
from grassroots.moderation.models import ModerationAction, Report
from grassroots.moderation.tests.factories import ReportFactory
from grassroots.notes.models import Note

pytestmark = pytest.mark.django_db


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def report_url(kind: str, target_id: int) -> str:
    return f"{reverse('moderation:report')}?kind={kind}&id={target_id}"


def test_a_member_reports_a_note_with_the_plain_form(note: Any, reader: Any) -> None:
    client = signed_in(reader)
    page = client.get(report_url("note", note.pk))
    assert page.status_code == 200
    assert b'name="reason"' in page.content

    response = client.post(
        reverse("moderation:report"),
        {"kind": "note", "id": note.pk, "reason": "counterfeit", "details": "Fake logo", "next": f"/notes/{note.pk}/"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"/notes/{note.pk}/"
    report = Report.objects.get()
    assert (report.target_kind, report.target_id, report.reason, report.details) == (
        "note",
        note.pk,
        "counterfeit",
        "Fake logo",
    )
    # Coming back shows the open report instead of a second form.
    again = client.get(report_url("note", note.pk))
    assert b'name="reason"' not in again.content


def test_the_report_form_refuses_bad_input_and_foreign_redirects(note: Any, reader: Any) -> None:
    client = signed_in(reader)
    bad = client.post(reverse("moderation:report"), {"kind": "note", "id": note.pk, "reason": ""})
    assert bad.status_code == 422
    assert not Report.objects.exists()

    response = client.post(
        reverse("moderation:report"), {"kind": "note", "id": note.pk, "reason": "spam", "next": "https://evil.example/"}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("moderation:report"))


def test_the_report_form_for_own_content_missing_targets_and_anonymous_visitors(
    note: Any, author: Any, message: Any
) -> None:
    own = signed_in(author).get(report_url("note", note.pk))
    assert own.status_code == 200
    assert b'name="reason"' not in own.content
    assert (
        signed_in(author)
        .post(reverse("moderation:report"), {"kind": "note", "id": note.pk, "reason": "spam"})
        .status_code
        == 422
    )
    assert signed_in(author).get(report_url("note", 999999)).status_code == 404
    assert signed_in(author).get(report_url("shop", note.pk)).status_code == 404
    assert signed_in(author).get(f"{reverse('moderation:report')}?kind=note&id=x").status_code == 404
    assert signed_in(UserFactory()).get(report_url("message", message.pk)).status_code == 404
    anonymous = Client().get(report_url("note", note.pk))
    assert anonymous.status_code == 302
    assert "login" in anonymous["Location"]
    assert not Report.objects.exists()


def test_the_report_link_partial_points_at_the_form(rf: Any) -> None:
    from django.template.loader import render_to_string

    request = rf.get("/notes/7/")
    html = render_to_string("moderation/_report_link.html", {"kind": "comment", "id": 12}, request=request)
    assert "/moderation/report/?kind=comment&amp;id=12&amp;next=/notes/7/" in html


def test_curators_hide_a_note_from_the_decision_page(note: Any, author: Any, curator: Any) -> None:
    ReportFactory(
        target_kind="note", target_id=note.pk, target_owner=author, reason="undisclosed_ad", details="no label"
    )
    client = signed_in(curator)

    queue = client.get(reverse("moderation:queue"))
    assert queue.status_code == 200
    assert note.title.encode() in queue.content
    page = client.get(reverse("moderation:target", args=["note", note.pk]))
    assert page.status_code == 200
    assert b"no label" in page.content
    assert b'value="hide"' in page.content and b'value="dismiss"' in page.content
    assert b'value="suspend"' not in page.content and b'value="restore"' not in page.content

    missing_reason = client.post(reverse("moderation:decide", args=["note", note.pk]), {"action": "hide", "reason": ""})
    assert missing_reason.status_code == 422
    assert Note.objects.get(pk=note.pk).moderation == "visible"

    done = client.post(
        reverse("moderation:decide", args=["note", note.pk]),
        {"action": "hide", "reason": "Ad without label", "then": "queue"},
    )
    assert done.status_code == 302
    assert done["Location"] == reverse("moderation:queue")
    assert Note.objects.get(pk=note.pk).moderation == "hidden"
    assert ModerationAction.objects.get().reason == "Ad without label"
    assert note.title.encode() not in client.get(reverse("moderation:queue")).content
    after = client.get(reverse("moderation:target", args=["note", note.pk])).content
    assert b'value="restore"' in after and b'value="hide"' not in after and b'value="dismiss"' not in after
    assert b"Ad without label" in after


def test_curators_suspend_a_member_from_the_decision_page(author: Any, curator: Any) -> None:
    ReportFactory(target_kind="user", target_id=author.pk, target_owner=author)
    client = signed_in(curator)
    page = client.get(reverse("moderation:target", args=["user", author.pk]))
    assert b'value="suspend"' in page.content and b'value="hide"' not in page.content

    client.post(reverse("moderation:decide", args=["user", author.pk]), {"action": "suspend", "reason": "Scams"})

    author.refresh_from_db()
    assert author.is_active is False


def test_the_curator_pages_are_closed_to_members(note: Any, reader: Any) -> None:
    client = signed_in(reader)
    assert client.get(reverse("moderation:queue")).status_code == 403
    assert client.get(reverse("moderation:target", args=["note", note.pk])).status_code == 403
    assert (
        client.post(reverse("moderation:decide", args=["note", note.pk]), {"action": "hide", "reason": "x"}).status_code
        == 403
    )
    assert Client().get(reverse("moderation:queue")).status_code == 302
    assert Note.objects.get(pk=note.pk).moderation == "visible"


def test_my_reports_page(note: Any, reader: Any) -> None:
    ReportFactory(reporter=reader, target_kind="note", target_id=note.pk, reason="spam")
    response = signed_in(reader).get(reverse("moderation:mine"))
    assert response.status_code == 200
    assert b"Spam" in response.content


def test_the_note_page_links_readers_to_the_report_form(note: Any, comment: Any, author: Any, reader: Any) -> None:
    page = signed_in(reader).get(reverse("notes:detail", args=[note.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert f"/moderation/report/?kind=note&amp;id={note.pk}&amp;" in html
    assert f"/moderation/report/?kind=comment&amp;id={comment.pk}&amp;" in html
    # Authors are not offered to report their own note or comment.
    own = signed_in(author).get(reverse("notes:detail", args=[note.pk])).content.decode()
    assert "/moderation/report/" not in own
