from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.notes.models import Note
from grassroots.shops.models import Shop
from grassroots.shops.tests.factories import ShopFactory
from grassroots.social.models import Block, Follow, Mute
from grassroots.social.tests.factories import BlockFactory, MuteFactory, follow, published_note

pytestmark = pytest.mark.django_db


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response: Any) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def test_profile_shows_the_member_counts_shop_and_notes_newest_first():
    star = UserFactory(display_name="Lily Chen", bio="Tea and ceramics")
    shop = ShopFactory(owner=star, name="Lily's Tea")
    now = timezone.now()
    older = published_note(star, title="Older note", published_at=now - timedelta(days=2))
    newer = published_note(star, title="Newer note", published_at=now - timedelta(days=1))
    Note.objects.create(author=star, title="Secret draft", status=Note.Status.DRAFT)
    brand_note = published_note(star, title="Brand note", merchant=MerchantFactory())
    fan = UserFactory()
    follow(fan, star)

    page = Client().get(f"/u/{star.handle}/")

    assert page.status_code == 200
    html = page.content.decode()
    assert "Lily Chen" in html and "Tea and ceramics" in html and f"@{star.handle}" in html
    assert f'id="followers-user-{star.pk}">1<' in html
    assert f"/shops/{shop.slug}/" in html and "Lily&#x27;s Tea" in html
    assert html.index("Newer note") < html.index("Older note")
    assert f'id="note-{newer.pk}"' in html and f'id="note-{older.pk}"' in html  # the shared note card
    assert "Secret draft" not in html and brand_note.title not in html
    assert f"/accounts/login/?next=/u/{star.handle}/" in html  # anonymous: follow asks to sign in


def queries_for(client: Client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


# The shared header (navigation, unread counts) costs a few queries of its own; the pages here add a
# fixed number on top, however many rows they show.
PAGE_QUERY_CAP = 20


def test_profile_page_costs_a_fixed_number_of_queries():
    star, viewer = UserFactory(), UserFactory()
    ShopFactory(owner=star)
    for n in range(2):
        published_note(star, title=f"Note {n}")
    client = as_user(viewer)
    client.get(f"/u/{star.handle}/")  # warm the session
    few = queries_for(client, f"/u/{star.handle}/")
    for n in range(10):
        published_note(star, title=f"More {n}")
    many = queries_for(client, f"/u/{star.handle}/")
    assert many == few <= PAGE_QUERY_CAP


def test_profile_notes_paginate_with_a_cursor():
    star = UserFactory()
    now = timezone.now()
    for n in range(14):
        published_note(star, title=f"Note number {n:02d}", published_at=now - timedelta(minutes=n))
    first = Client().get(f"/u/{star.handle}/")
    cursor = first.context["next_cursor"]
    assert cursor and len(first.context["notes"]) == 12
    second = Client().get(f"/u/{star.handle}/", {"cursor": cursor})
    assert [n.title for n in second.context["notes"]] == ["Note number 12", "Note number 13"]
    assert Client().get(f"/u/{star.handle}/", {"cursor": "garbage"}).status_code == 200


def test_follow_button_works_without_javascript():
    fan, star = UserFactory(), UserFactory()
    client = as_user(fan)
    profile = f"/u/{star.handle}/"

    response = client.post("/people/follow/", {"kind": "user", "target_id": star.pk, "next": profile})

    assert response.status_code == 302 and response["Location"] == profile
    assert Follow.objects.filter(follower=fan, target_id=star.pk).exists()
    page = client.get(profile).content.decode()
    assert 'action="/people/unfollow/"' in page and 'aria-pressed="true"' in page
    client.post("/people/unfollow/", {"kind": "user", "target_id": star.pk, "next": profile})
    assert not Follow.objects.exists()


def test_follow_button_swaps_in_place_with_htmx():
    fan, star = UserFactory(), UserFactory()
    client = as_user(fan)

    response = client.post(
        "/people/follow/",
        {"kind": "user", "target_id": star.pk, "next": f"/u/{star.handle}/"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<form") and 'action="/people/unfollow/"' in html
    assert f'<span id="followers-user-{star.pk}" hx-swap-oob="innerHTML">1</span>' in html
    assert f'name="next" value="/u/{star.handle}/"' in html


def test_follow_errors_are_shown_not_500():
    fan = UserFactory()
    client = as_user(fan)
    response = client.post("/people/follow/", {"kind": "user", "target_id": fan.pk, "next": "/"}, follow=True)
    assert response.status_code == 200
    assert "You cannot follow yourself." in messages_of(response)
    htmx = client.post("/people/follow/", {"kind": "user", "target_id": fan.pk}, HTTP_HX_REQUEST="true")
    assert htmx.status_code == 200 and "You cannot follow yourself." in htmx.content.decode()
    junk = client.post("/people/follow/", {"kind": "planet", "target_id": "x"}, HTTP_HX_REQUEST="true")
    assert junk.status_code == 422
    offsite = client.post("/people/follow/", {"kind": "user", "target_id": 999_999, "next": "https://evil.example/"})
    assert offsite.status_code == 302 and offsite["Location"] == "/"
    assert not Follow.objects.exists()


def test_anonymous_follow_goes_to_sign_in():
    star = UserFactory()
    response = Client().post("/people/follow/", {"kind": "user", "target_id": star.pk, "next": f"/u/{star.handle}/"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next=")
    htmx = Client().post("/people/follow/", {"kind": "user", "target_id": star.pk}, HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"].startswith("/accounts/login/")
    assert not Follow.objects.exists()


def test_a_blocked_viewer_sees_an_unavailable_page_without_notes():
    star, viewer = UserFactory(display_name="Star Person"), UserFactory()
    published_note(star, title="Private thoughts")
    BlockFactory(blocker=star, blocked=viewer)
    client = as_user(viewer)

    for path in (f"/u/{star.handle}/", f"/u/{star.handle}/followers/", f"/u/{star.handle}/following/"):
        page = client.get(path)
        assert page.status_code == 404
        html = page.content.decode()
        assert "This profile is unavailable." in html
        assert "Private thoughts" not in html and "Star Person" not in html


def test_the_blocker_sees_the_profile_with_unblock_and_no_notes():
    star, me = UserFactory(), UserFactory()
    published_note(star, title="Their note")
    BlockFactory(blocker=me, blocked=star)
    page = as_user(me).get(f"/u/{star.handle}/")
    html = page.content.decode()
    assert page.status_code == 200
    assert 'action="/people/unblock/"' in html and "Their note" not in html
    assert 'action="/people/follow/"' not in html


def test_block_mute_and_manage_them_from_the_blocked_page():
    me, other = UserFactory(), UserFactory()
    published_note(other, title="Noisy note")
    follow(other, me)
    client = as_user(me)
    profile = f"/u/{other.handle}/"

    client.post("/people/mute/", {"handle": other.handle, "next": profile})
    muted_page = client.get(profile).content.decode()
    client.post("/people/block/", {"handle": other.handle, "next": profile})
    listing = client.get("/people/blocked/").content.decode()

    assert "Noisy note" not in muted_page and 'action="/people/unmute/"' in muted_page
    assert Block.objects.filter(blocker=me, blocked=other).exists() and not Follow.objects.exists()
    assert f"@{other.handle}" in listing and 'action="/people/unblock/"' in listing
    assert 'action="/people/unmute/"' in listing

    client.post("/people/unblock/", {"handle": other.handle, "next": "/people/blocked/"})
    client.post("/people/unmute/", {"handle": other.handle, "next": "/people/blocked/"})
    assert not Block.objects.exists() and not Mute.objects.exists()
    response = client.post("/people/block/", {"handle": me.handle, "next": "/people/blocked/"}, follow=True)
    assert "You cannot block yourself." in messages_of(response)
    assert Client().get("/people/blocked/").status_code == 302


def test_own_profile_has_no_follow_button_but_links_to_settings():
    me = UserFactory()
    html = as_user(me).get(f"/u/{me.handle}/").content.decode()
    assert 'action="/people/follow/"' not in html and "/people/blocked/" in html


def test_unknown_and_suspended_profiles_are_404():
    assert Client().get("/u/nobody_here/").status_code == 404
    assert Client().get(f"/u/{UserFactory(is_active=False).handle}/").status_code == 404


def test_followers_page_lists_people_with_buttons_in_fixed_queries():
    star, viewer = UserFactory(), UserFactory()
    fans = [UserFactory(display_name=f"Fan {n}") for n in range(5)]
    for fan in fans:
        follow(fan, star)
    follow(viewer, fans[0])
    MuteFactory(muter=viewer, muted=fans[1])
    client = as_user(viewer)
    client.get(f"/u/{star.handle}/followers/")

    with CaptureQueriesContext(connection) as captured:
        page = client.get(f"/u/{star.handle}/followers/")

    html = page.content.decode()
    assert "Fan 0" in html and "Fan 1" not in html and "Fan 4" in html
    assert html.index("Fan 4") < html.index("Fan 0")
    assert html.count('action="/people/unfollow/"') == 1 and html.count('action="/people/follow/"') == 3
    for fan in [UserFactory() for _ in range(20)]:
        follow(fan, star)
    assert queries_for(client, f"/u/{star.handle}/followers/") == len(captured) <= PAGE_QUERY_CAP
    assert queries_for(client, f"/u/{star.handle}/following/") <= PAGE_QUERY_CAP


def test_following_page_lists_people_shops_and_brands():
    me, friend = UserFactory(), UserFactory(display_name="Friend")
    shop, merchant = ShopFactory(name="Corner Shop"), MerchantFactory(name="Tea Brand")
    follow(me, friend)
    follow(me, shop, "shop")
    follow(me, merchant, "merchant")
    html = Client().get(f"/u/{me.handle}/following/").content.decode()
    assert "Friend" in html and "Corner Shop" in html and "Tea Brand" in html
    assert f"/brands/{merchant.slug}/" in html and f"/shops/{shop.slug}/" in html


def test_brand_page_shows_verified_brands_with_products_and_brand_notes():
    merchant = MerchantFactory(name="Hill Tea", description="Small-batch tea from the hills.")
    product = ProductFactory(merchant=merchant, title_en="Spring green tea")
    published_note(merchant.owner, title="Harvest diary", merchant=merchant)
    published_note(merchant.owner, title="Personal note")
    fan = UserFactory()

    page = as_user(fan).get(f"/brands/{merchant.slug}/")

    html = page.content.decode()
    assert page.status_code == 200
    assert "Hill Tea" in html and "Small-batch tea" in html and product.title in html
    assert "Harvest diary" in html and "Personal note" not in html
    assert 'action="/people/follow/"' in html
    assert 'action="/people/follow/"' not in as_user(merchant.owner).get(f"/brands/{merchant.slug}/").content.decode()
    assert Client().get(f"/brands/{MerchantFactory(status='applied').slug}/").status_code == 404


def test_shop_page_carries_a_follow_button(django_assert_max_num_queries):
    shop, fan = ShopFactory(), UserFactory()
    client = as_user(fan)
    html = client.get(f"/shops/{shop.slug}/").content.decode()
    assert 'data-follow="shop-' in html and 'action="/people/follow/"' in html
    client.post("/people/follow/", {"kind": "shop", "target_id": shop.pk, "next": f"/shops/{shop.slug}/"})
    assert 'action="/people/unfollow/"' in client.get(f"/shops/{shop.slug}/").content.decode()
    owner_html = as_user(shop.owner).get(f"/shops/{shop.slug}/").content.decode()
    assert 'data-follow="shop-' not in owner_html
    Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.PAUSED)
    response = client.post("/people/follow/", {"kind": "shop", "target_id": shop.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200  # already following: the button still renders
