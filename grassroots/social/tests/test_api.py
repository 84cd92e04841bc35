from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.shops.tests.factories import ShopFactory
from grassroots.social.models import Block, Follow, FollowCounter, Mute
from grassroots.social.tests.factories import BlockFactory, MuteFactory, follow

pytestmark = pytest.mark.django_db

API = "/api/v1/social"


def as_user(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, path: str, body: dict[str, Any], **extra: Any) -> Any:
    return client.post(f"{API}{path}", body, content_type="application/json", **extra)


def error_of(response: Any) -> tuple[int, str]:
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    return response.status_code, body["code"]


def test_follow_and_unfollow_through_the_api():
    fan, star = UserFactory(), UserFactory()
    client = as_user(fan)

    created = post(client, "/follows", {"kind": "user", "target_id": star.pk})
    repeated = post(client, "/follows", {"kind": "user", "target_id": star.pk})
    removed = client.delete(f"{API}/follows/user/{star.pk}")

    assert created.status_code == 201, created.content
    assert created.json() == {"kind": "user", "target_id": star.pk, "following": True, "followers": 1}
    assert repeated.status_code == 200 and repeated.json()["followers"] == 1
    assert removed.status_code == 200
    assert removed.json() == {"kind": "user", "target_id": star.pk, "following": False, "followers": 0}
    assert Follow.objects.count() == 0


def test_follow_a_shop_and_a_brand_with_a_token():
    fan, shop, merchant = UserFactory(), ShopFactory(), MerchantFactory()
    headers = bearer_headers(fan)
    client = Client()
    assert post(client, "/follows", {"kind": "shop", "target_id": shop.pk}, **headers).status_code == 201
    assert post(client, "/follows", {"kind": "merchant", "target_id": merchant.pk}, **headers).status_code == 201
    assert FollowCounter.objects.get(target_kind="user", target_id=fan.pk).following == 2


def test_follow_bad_input_is_a_clear_4xx_with_nothing_written(settings):
    fan, star = UserFactory(), UserFactory()
    blocker = UserFactory()
    BlockFactory(blocker=blocker, blocked=fan)
    client = as_user(fan)

    assert error_of(post(Client(), "/follows", {"kind": "user", "target_id": star.pk})) == (401, "unauthenticated")
    assert error_of(post(client, "/follows", {"kind": "user", "target_id": 999_999})) == (404, "not_found")
    assert error_of(post(client, "/follows", {"kind": "user", "target_id": fan.pk})) == (422, "cannot_follow_self")
    assert error_of(post(client, "/follows", {"kind": "user", "target_id": blocker.pk})) == (403, "blocked")
    assert error_of(post(client, "/follows", {"kind": "planet", "target_id": star.pk})) == (422, "invalid_kind")
    assert error_of(post(client, "/follows", {"kind": "user", "target_id": "x"})) == (422, "invalid")
    assert error_of(post(client, "/follows", {"kind": "user"})) == (422, "invalid")
    assert error_of(client.delete(f"{API}/follows/planet/1")) == (422, "invalid_kind")
    assert error_of(Client().delete(f"{API}/follows/user/{star.pk}")) == (401, "unauthenticated")
    assert Follow.objects.count() == 0 and FollowCounter.objects.count() == 0


def test_follow_rate_limit_is_429_with_retry_after(settings):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "FOLLOWS_PER_HOUR": 1}
    fan, first, second = UserFactory(), UserFactory(), UserFactory()
    client = as_user(fan)
    assert post(client, "/follows", {"kind": "user", "target_id": first.pk}).status_code == 201

    limited = post(client, "/follows", {"kind": "user", "target_id": second.pk})

    assert error_of(limited) == (429, "rate_limited")
    assert int(limited["Retry-After"]) > 0
    assert Follow.objects.count() == 1


def test_profile_shows_counts_shop_and_viewer_state():
    star = UserFactory(bio="Tea and ceramics")
    shop = ShopFactory(owner=star)
    fan = UserFactory()
    follow(fan, star)
    follow(fan, shop, "shop")
    follow(star, UserFactory())

    anonymous = Client().get(f"{API}/users/{star.handle}")
    signed_in = as_user(fan).get(f"{API}/users/{star.handle.upper()}")

    assert anonymous.status_code == 200, anonymous.content
    body = anonymous.json()
    assert (body["handle"], body["bio"], body["followers"], body["following"], body["viewer"]) == (
        star.handle,
        "Tea and ceramics",
        1,
        1,
        None,
    )
    assert body["shop"]["slug"] == shop.slug and body["shop"]["followers"] == 1
    assert body["url"] == f"http://testserver/u/{star.handle}/"
    assert signed_in.json()["viewer"] == {"following": True, "blocking": False, "muting": False}


def test_profile_is_not_found_for_missing_suspended_or_blocking_members():
    viewer, blocker, suspended = UserFactory(), UserFactory(), UserFactory(is_active=False)
    BlockFactory(blocker=blocker, blocked=viewer)
    client = as_user(viewer)
    assert error_of(client.get(f"{API}/users/nobody_here"))[0] == 404
    assert error_of(client.get(f"{API}/users/{suspended.handle}"))[0] == 404
    assert error_of(client.get(f"{API}/users/{blocker.handle}"))[0] == 404
    assert error_of(client.get(f"{API}/users/{blocker.handle}/followers"))[0] == 404
    assert Client().get(f"{API}/users/{blocker.handle}").status_code == 200
    # The blocker still sees the one they blocked, to unblock them.
    assert as_user(blocker).get(f"{API}/users/{viewer.handle}").json()["viewer"]["blocking"] is True


def test_followers_list_is_cursor_paginated_hides_blocked_and_muted_and_costs_fixed_queries(
    django_assert_max_num_queries,
):
    star, viewer = UserFactory(), UserFactory()
    fans = [UserFactory() for _ in range(7)]
    for fan in fans:
        follow(fan, star)
    follow(viewer, fans[6])
    BlockFactory(blocker=viewer, blocked=fans[0])
    MuteFactory(muter=viewer, muted=fans[1])
    headers = bearer_headers(viewer)
    client = Client()

    # token (2) + hidden ids (1) + page (1) + follow state (1)
    with django_assert_max_num_queries(6):
        first = client.get(f"{API}/users/{star.handle}/followers?limit=3", **headers)
    body = first.json()
    assert [item["handle"] for item in body["items"]] == [fans[6].handle, fans[5].handle, fans[4].handle]
    assert [item["viewer_following"] for item in body["items"]] == [True, False, False]
    second = client.get(f"{API}/users/{star.handle}/followers?limit=3&cursor={body['next_cursor']}", **headers)
    assert [item["handle"] for item in second.json()["items"]] == [fans[3].handle, fans[2].handle]
    assert second.json()["next_cursor"] is None
    public = Client().get(f"{API}/users/{star.handle}/followers?limit=100").json()
    assert len(public["items"]) == 7

    more_fans = [UserFactory() for _ in range(20)]
    for fan in more_fans:
        follow(fan, star)
    with django_assert_max_num_queries(6):
        assert len(client.get(f"{API}/users/{star.handle}/followers?limit=25", **headers).json()["items"]) == 25


def test_list_bad_input():
    star = UserFactory()
    client = Client()
    assert error_of(client.get(f"{API}/users/{star.handle}/followers?cursor=%%%"))[1] == "invalid_cursor"
    assert error_of(client.get(f"{API}/users/{star.handle}/followers?cursor=WyJ4Il0"))[1] == "invalid_cursor"
    assert error_of(client.get(f"{API}/users/{star.handle}/followers?limit=0"))[0] == 422
    assert error_of(client.get(f"{API}/users/{star.handle}/following?kind=planet"))[1] == "invalid_kind"


def test_following_list_mixes_people_shops_and_brands(django_assert_max_num_queries):
    me, friend, shop, merchant = UserFactory(), UserFactory(), ShopFactory(), MerchantFactory()
    follow(me, friend)
    follow(me, shop, "shop")
    follow(me, merchant, "merchant")
    client = Client()
    with django_assert_max_num_queries(6):
        body = client.get(f"{API}/users/{me.handle}/following").json()
    assert [(item["kind"], item["id"]) for item in body["items"]] == [
        ("merchant", merchant.pk),
        ("shop", shop.pk),
        ("user", friend.pk),
    ]
    assert body["items"][1]["url"] == f"http://testserver/shops/{shop.slug}/"


def test_blocks_and_mutes_through_the_api():
    me, other = UserFactory(), UserFactory()
    follow(other, me)
    client = as_user(me)

    blocked = post(client, "/blocks", {"handle": other.handle})
    again = post(client, "/blocks", {"handle": other.handle})
    muted = post(client, "/mutes", {"handle": other.handle})

    assert blocked.status_code == 201, blocked.content
    assert [item["handle"] for item in blocked.json()["items"]] == [other.handle]
    assert again.status_code == 200
    assert muted.status_code == 201
    assert Follow.objects.count() == 0
    assert client.get(f"{API}/blocks").json()["items"][0]["handle"] == other.handle
    assert client.delete(f"{API}/blocks/{other.handle}").status_code == 204
    assert client.delete(f"{API}/mutes/{other.handle}").status_code == 204
    assert Block.objects.count() == 0 and Mute.objects.count() == 0

    assert error_of(post(client, "/blocks", {"handle": me.handle})) == (422, "cannot_block_self")
    assert error_of(post(client, "/blocks", {"handle": "nobody_here"})) == (404, "not_found")
    assert error_of(post(client, "/mutes", {"handle": me.handle})) == (422, "cannot_mute_self")
    assert error_of(post(Client(), "/blocks", {"handle": other.handle})) == (401, "unauthenticated")
    assert error_of(Client().get(f"{API}/mutes")) == (401, "unauthenticated")
    assert Block.objects.count() == 0 and Mute.objects.count() == 0


def test_brand_profile_api():
    merchant = MerchantFactory(description="Small-batch tea.")
    product = ProductFactory(merchant=merchant)
    fan = UserFactory()
    follow(fan, merchant, "merchant")

    body = as_user(fan).get(f"{API}/brands/{merchant.slug}").json()

    assert (body["name"], body["followers"], body["viewer_following"]) == (merchant.name, 1, True)
    assert [p["id"] for p in body["products"]] == [product.pk]
    unverified = MerchantFactory(status="applied")
    assert error_of(Client().get(f"{API}/brands/{unverified.slug}"))[0] == 404
