from __future__ import annotations

import pytest
from django.urls import reverse

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.feeds import selectors, services
from grassroots.feeds.models import DiscoverScore
from grassroots.feeds.tests.factories import feed_settings, post, run
from grassroots.notes.models import Note
from grassroots.notes.tests.factories import NoteFactory
from grassroots.social.services import follow_add

pytestmark = pytest.mark.django_db


def test_signed_in_landing_is_the_home_feed_and_anonymous_keeps_the_catalogue(client, settings):  # type: ignore[no-untyped-def]
    feed_settings(settings, FEED_BACKEND="db")
    author, reader = UserFactory(), UserFactory()
    run(follow_add, follower=reader, kind="user", target_id=author.pk)
    note = post(author, "Fresh tea from Yunnan")

    assert b"Fresh tea from Yunnan" not in client.get("/").content
    client.force_login(reader)
    html = client.get("/").content.decode()
    assert "Fresh tea from Yunnan" in html
    assert f'id="note-{note.pk}"' in html
    assert client.get("/?q=tea").status_code == 200  # a search stays the catalogue
    assert "Fresh tea from Yunnan" in client.get(reverse("feeds:home")).content.decode()


def test_empty_feed_suggests_people_to_follow_and_discover(client, settings):  # type: ignore[no-untyped-def]
    feed_settings(settings, FEED_BACKEND="db")
    popular, fan, reader = UserFactory(display_name="Popular Pat"), UserFactory(), UserFactory()
    run(follow_add, follower=fan, kind="user", target_id=popular.pk)
    client.force_login(reader)
    html = client.get(reverse("feeds:home")).content.decode()
    assert "Popular Pat" in html
    assert reverse("feeds:discover") in html
    assert client.get(reverse("feeds:home") + "?cursor=bad!").status_code == 400


def test_load_more_pages_with_and_without_htmx(client, settings):  # type: ignore[no-untyped-def]
    feed_settings(settings, FEED_BACKEND="db", FEED_PAGE_SIZE=2)
    author, reader = UserFactory(), UserFactory()
    run(follow_add, follower=reader, kind="user", target_id=author.pk)
    notes = [post(author, f"Note number {i}") for i in range(3)]
    client.force_login(reader)
    first = client.get(reverse("feeds:home")).content.decode()
    assert "Note number 2" in first and "Note number 0" not in first
    _, cursor = selectors.home_feed_ids(viewer_id=reader.pk, limit=2)
    more = client.get(reverse("feeds:home"), {"cursor": cursor}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="note-list")
    body = more.content.decode()
    assert "Note number 0" in body and "<html" not in body
    assert f'id="note-{notes[0].pk}"' in body


def test_discover_ranks_engagement_with_two_notes_per_author(client, settings):  # type: ignore[no-untyped-def]
    feed_settings(settings, FEED_BACKEND="db")
    busy, quiet = UserFactory(), UserFactory()
    busy_notes = [NoteFactory(author=busy, like_count=50 + i) for i in range(4)]
    quiet_note = NoteFactory(author=quiet)
    hidden = NoteFactory(author=quiet, like_count=1000, moderation=Note.Moderation.HIDDEN)
    assert services.discover_refresh() == 5
    ids, cursor = selectors.discover_ids(viewer_id=None, limit=3)
    assert ids == [busy_notes[3].pk, busy_notes[2].pk, quiet_note.pk]
    assert hidden.pk not in ids and not DiscoverScore.objects.filter(note=hidden).exists()
    assert cursor is None or isinstance(cursor, str)
    response = client.get("/api/v1/feeds/discover?limit=3")
    assert response.status_code == 200
    assert [item["id"] for item in response.json()["items"]] == ids


def test_hashtag_page_and_api(client, settings):  # type: ignore[no-untyped-def]
    feed_settings(settings, FEED_BACKEND="db")
    author = UserFactory()
    tagged = post(author, "Matcha", body="Great #matcha today")
    post(author, "Other", body="No tag")
    html = client.get(reverse("feeds:hashtag", kwargs={"name": "matcha"})).content.decode()
    assert f'id="note-{tagged.pk}"' in html
    assert client.get(reverse("feeds:hashtag", kwargs={"name": "nothing"})).status_code == 404
    data = client.get("/api/v1/feeds/tags/matcha").json()
    assert [item["id"] for item in data["items"]] == [tagged.pk]
    assert client.get("/api/v1/feeds/tags/nothing").status_code == 404


def test_home_api_needs_a_member_and_rejects_bad_input(client, settings):  # type: ignore[no-untyped-def]
    feed_settings(settings, FEED_BACKEND="db")
    author, reader = UserFactory(), UserFactory()
    run(follow_add, follower=reader, kind="user", target_id=author.pk)
    note = post(author, "Hello")
    assert client.get("/api/v1/feeds/home").status_code == 401
    headers = bearer_headers(reader)
    data = client.get("/api/v1/feeds/home", **headers).json()
    assert [item["id"] for item in data["items"]] == [note.pk]
    assert data["items"][0]["author_handle"] == author.handle
    bad = client.get("/api/v1/feeds/home?cursor=zzz", **headers)
    assert bad.status_code == 422 or bad.status_code == 400
    assert bad.json()["code"] == "invalid_cursor"
    assert client.get("/api/v1/feeds/home?limit=1000", **headers).status_code in (400, 422)
