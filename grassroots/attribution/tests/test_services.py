from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from grassroots.accounts.tests.factories import UserFactory
from grassroots.attribution.bots import is_bot_user_agent
from grassroots.attribution.models import Click, CustomerBinding, Fingerprint, ShareLink
from grassroots.attribution.services import (
    CODE_RE,
    attribution_resolve,
    attribution_resolve_many,
    binding_on_signup,
    click_record,
    fingerprint_record,
    ip_hash,
    self_referral_signals,
    share_link_for,
    share_links_for_shop,
)
from grassroots.attribution.tests.factories import BROWSER_UA, ShopFactory, rate, shop_with
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.errors import Conflict, NotFound
from grassroots.shops.models import Shop
from grassroots.shops.selectors import commission_rate_at

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DEVICE = "device-buyer-0000000001"
OTHER_DEVICE = "device-other-0000000002"
KEEPER_DEVICE = "device-keeper-000000003"


@pytest.fixture
def binding_days(settings: Any) -> int:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "CUSTOMER_BINDING_DAYS": 30}
    return 30


def click(
    link: ShareLink,
    *,
    at: datetime,
    key: str = DEVICE,
    user: Any = None,
    ua: str = BROWSER_UA,
    ip: str | None = "203.0.113.5",
) -> Click:
    _link, recorded = click_record(code=link.code, visitor_key=key, user=user, ip=ip, user_agent=ua, at=at)
    return recorded


# --- share links ---------------------------------------------------------------------------


def test_share_link_for_mints_one_unguessable_link_per_shop_and_item():
    product = ProductFactory()
    shop = shop_with(product)

    shop_link = share_link_for(shop=shop)
    product_link = share_link_for(shop=shop, product=product)

    assert CODE_RE.fullmatch(shop_link.code) and CODE_RE.fullmatch(product_link.code)
    assert shop_link.code != product_link.code
    assert (shop_link.kind, shop_link.product_id) == ("shop", None)
    assert (product_link.kind, product_link.product_id) == ("product", product.pk)
    assert share_link_for(shop=shop) == shop_link
    assert share_link_for(shop=shop, product=product) == product_link
    assert ShareLink.objects.count() == 2


def test_share_link_for_refuses_a_product_the_shop_does_not_carry():
    shop = shop_with(ProductFactory())
    stranger = ProductFactory()

    with pytest.raises(NotFound):
        share_link_for(shop=shop, product=stranger)

    assert not ShareLink.objects.exists()


def test_a_suspended_shop_cannot_mint_links():
    shop = ShopFactory(status=Shop.Status.SUSPENDED)

    with pytest.raises(Conflict):
        share_link_for(shop=shop)

    assert not ShareLink.objects.exists()


def test_share_links_for_shop_mints_missing_links_once_and_skips_foreign_products():
    a, b, foreign = ProductFactory(), ProductFactory(), ProductFactory()
    shop = shop_with(a, b)
    existing = share_link_for(shop=shop, product=a)

    links = share_links_for_shop(shop=shop, product_ids=[a.pk, b.pk, foreign.pk])

    assert set(links) == {None, a.pk, b.pk}
    assert links[a.pk] == existing
    assert share_links_for_shop(shop=shop, product_ids=[a.pk, b.pk]) == {key: links[key] for key in (None, a.pk, b.pk)}
    assert ShareLink.objects.count() == 3


# --- clicks --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["Zz9Zz9Zz", "short", "../../etc", "AAAAAAAAA", "", "ÄÄÄÄÄÄÄÄ"])
def test_an_unknown_or_forged_code_is_not_found_and_writes_nothing(code: str):
    share_link_for(shop=ShopFactory())

    with pytest.raises(NotFound):
        click_record(code=code, visitor_key=DEVICE, user=None, ip="203.0.113.5", user_agent=BROWSER_UA, at=T)

    assert not Click.objects.exists()
    assert ShareLink.objects.get().click_count == 0


def test_a_link_of_a_suspended_shop_is_not_found_and_writes_nothing():
    shop = ShopFactory()
    link = share_link_for(shop=shop)
    Shop.objects.filter(pk=shop.pk).update(status=Shop.Status.SUSPENDED)

    with pytest.raises(NotFound):
        click(link, at=T)

    assert not Click.objects.exists()


def test_a_click_is_logged_with_a_hashed_ip_and_counted():
    product = ProductFactory()
    shop = shop_with(product)
    link = share_link_for(shop=shop, product=product)
    user = UserFactory()

    recorded = click(link, at=T, user=user, ip="198.51.100.7", ua="x" * 500 + BROWSER_UA)

    recorded.refresh_from_db()
    assert (recorded.link_id, recorded.shop_id, recorded.product_id, recorded.user_id) == (
        link.pk,
        shop.pk,
        product.pk,
        user.pk,
    )
    assert (recorded.visitor_key, recorded.is_bot, recorded.is_duplicate, recorded.created_at) == (
        DEVICE,
        False,
        False,
        T,
    )
    assert recorded.ip_hash == ip_hash("198.51.100.7")
    assert len(recorded.ip_hash) == 64 and "198.51.100.7" not in recorded.ip_hash
    assert len(recorded.user_agent) == 300
    assert ShareLink.objects.get(pk=link.pk).click_count == 1


def test_a_malformed_device_key_is_not_stored():
    link = share_link_for(shop=ShopFactory())

    recorded = click(link, at=T, key="<script>alert(1)</script>")

    assert recorded.visitor_key == ""


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0 A",
        "TelegramBot (like TwitterBot)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
        "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
        "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
        "curl/8.5.0",
        "Wget/1.21.4",
        "python-requests/2.32.3",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0 Safari/537.36",
        "",
    ],
)
def test_crawlers_preview_fetchers_and_http_clients_are_bots(agent: str):
    assert is_bot_user_agent(agent)


@pytest.mark.parametrize(
    "agent",
    [
        BROWSER_UA,
        "Mozilla/5.0 (Linux; Android 14; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile Safari/537.36",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.47(0x18002f2c) NetType/WIFI Language/zh_CN",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/450.0.0.38.108]",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.0.0",
    ],
)
def test_people_in_browsers_and_in_app_browsers_are_not_bots(agent: str):
    assert not is_bot_user_agent(agent)


def test_a_bot_click_is_logged_as_bot_not_counted_and_never_attributes():
    product = ProductFactory()
    shop = shop_with(product)
    link = share_link_for(shop=shop, product=product)
    rate(product, 1000, T - timedelta(days=30))

    recorded = click(link, at=T - timedelta(hours=1), ua="facebookexternalhit/1.1")

    assert (recorded.is_bot, recorded.is_duplicate) == (True, False)
    assert ShareLink.objects.get(pk=link.pk).click_count == 0
    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=T)
    assert (result.rule, result.shop_id, result.rate_bps) == ("none", None, 0)


def test_a_repeat_click_within_30_minutes_is_a_duplicate_and_not_counted_twice():
    link = share_link_for(shop=ShopFactory())

    first = click(link, at=T)
    again = click(link, at=T + timedelta(minutes=29))
    other_device = click(link, at=T + timedelta(minutes=29), key=OTHER_DEVICE)

    assert (first.is_duplicate, again.is_duplicate, other_device.is_duplicate) == (False, True, False)
    assert ShareLink.objects.get(pk=link.pk).click_count == 2


def test_the_same_signed_in_user_on_another_device_is_a_duplicate():
    link = share_link_for(shop=ShopFactory())
    user = UserFactory()

    click(link, at=T, user=user)
    again = click(link, at=T + timedelta(minutes=5), key=OTHER_DEVICE, user=user)

    assert again.is_duplicate is True
    assert ShareLink.objects.get(pk=link.pk).click_count == 1


def test_the_30_minutes_run_from_the_last_counted_click():
    link = share_link_for(shop=ShopFactory())

    click(link, at=T)
    click(link, at=T + timedelta(minutes=20))  # duplicate: does not restart the 30 minutes
    later = click(link, at=T + timedelta(minutes=31))

    assert later.is_duplicate is False
    assert ShareLink.objects.get(pk=link.pk).click_count == 2


def test_a_duplicate_click_still_moves_the_last_click_time():
    product = ProductFactory()
    link = share_link_for(shop=shop_with(product))
    click(link, at=T)
    duplicate = click(link, at=T + timedelta(minutes=10))

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=T + timedelta(hours=1))

    assert (result.rule, result.click_id, result.clicked_at) == ("last_click", duplicate.pk, duplicate.created_at)


# --- the attribution rule ------------------------------------------------------------------


def test_the_last_click_wins_between_two_shops():
    product = ProductFactory()
    shop_a, shop_b = shop_with(product), shop_with(product)
    rate(product, 1200, T - timedelta(days=60))
    buyer = UserFactory()
    click(share_link_for(shop=shop_a, product=product), at=T - timedelta(days=3))
    b_click = click(share_link_for(shop=shop_b), at=T - timedelta(days=1))

    result = attribution_resolve(buyer=buyer, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id, result.shopkeeper_id, result.click_id, result.rate_bps) == (
        "last_click",
        shop_b.pk,
        shop_b.owner_id,
        b_click.pk,
        1200,
    )
    assert result.held_for_review is False
    assert result.earns_commission is True

    a_again = click(share_link_for(shop=shop_a), at=T - timedelta(hours=1))
    result = attribution_resolve(buyer=buyer, visitor_key=DEVICE, product_id=product.pk, at=T)
    assert (result.shop_id, result.click_id) == (shop_a.pk, a_again.pk)


def test_a_signed_in_buyers_click_on_another_device_counts():
    product = ProductFactory()
    shop = shop_with(product)
    buyer = UserFactory()
    click(share_link_for(shop=shop), at=T - timedelta(days=2), key=OTHER_DEVICE, user=buyer)

    result = attribution_resolve(buyer=buyer, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id) == ("last_click", shop.pk)


def test_a_shop_link_credits_only_products_the_shop_carries():
    carried, elsewhere = ProductFactory(), ProductFactory()
    shop = shop_with(carried)
    click(share_link_for(shop=shop), at=T - timedelta(days=1))

    results = attribution_resolve_many(buyer=None, visitor_key=DEVICE, product_ids=[carried.pk, elsewhere.pk], at=T)

    assert (results[carried.pk].rule, results[carried.pk].shop_id) == ("last_click", shop.pk)
    assert (results[elsewhere.pk].rule, results[elsewhere.pk].shop_id) == ("none", None)


def test_a_product_link_credits_other_products_of_the_same_shop():
    pitched, also_carried = ProductFactory(), ProductFactory()
    shop = shop_with(pitched, also_carried)
    click(share_link_for(shop=shop, product=pitched), at=T - timedelta(days=1))

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=also_carried.pk, at=T)

    assert (result.rule, result.shop_id) == ("last_click", shop.pk)


def test_a_click_outside_the_window_is_expired_and_credits_nobody():
    product = ProductFactory()
    shop = shop_with(product)
    click(share_link_for(shop=shop), at=T - timedelta(days=7, seconds=1))

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id, result.click_id, result.rate_bps) == ("expired", None, None, 0)


def test_the_window_follows_the_setting(settings: Any):
    settings.GRASSROOTS = {**settings.GRASSROOTS, "ATTRIBUTION_WINDOW_DAYS": 30}
    product = ProductFactory()
    shop = shop_with(product)
    click(share_link_for(shop=shop), at=T - timedelta(days=20))

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id) == ("last_click", shop.pk)


def test_no_click_at_all_is_none():
    product = ProductFactory()
    shop_with(product)

    result = attribution_resolve(buyer=UserFactory(), visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id, result.reason) == ("none", None, "no_click")


def test_clicks_after_the_purchase_time_do_not_count():
    product = ProductFactory()
    shop = shop_with(product)
    click(share_link_for(shop=shop), at=T + timedelta(minutes=1))

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert result.rule == "none"


def test_a_paused_shop_is_not_credited_and_an_earlier_active_shop_is():
    product = ProductFactory()
    active, paused = shop_with(product), shop_with(product)
    click(share_link_for(shop=active), at=T - timedelta(days=2))
    click(share_link_for(shop=paused), at=T - timedelta(days=1))
    Shop.objects.filter(pk=paused.pk).update(status=Shop.Status.PAUSED)

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id) == ("last_click", active.pk)


def test_a_product_removed_from_the_shop_is_no_longer_credited():
    product = ProductFactory()
    shop = shop_with(product)
    click(share_link_for(shop=shop, product=product), at=T - timedelta(days=1))
    shop.items.all().delete()

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert result.rule == "none"


def test_a_rate_decrease_in_its_notice_period_keeps_the_old_rate_for_earlier_clicks():
    product = ProductFactory()
    shop = shop_with(product)
    link = share_link_for(shop=shop)
    rate(product, 2000, T - timedelta(days=90))
    # The merchant cut the rate 4 days ago; with 7 days' notice it takes effect in 3 days.
    takes_effect = T + timedelta(days=3)
    rate(product, 800, takes_effect)
    click(link, at=T - timedelta(hours=2))
    purchase_at = T + timedelta(days=4)

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=purchase_at)

    assert (result.rule, result.rate_bps) == ("last_click", 2000)
    assert commission_rate_at(product_id=product.pk, at=purchase_at) == 800

    later = click(link, at=takes_effect + timedelta(hours=1), key=OTHER_DEVICE)
    result = attribution_resolve(buyer=None, visitor_key=OTHER_DEVICE, product_id=product.pk, at=purchase_at)
    assert (result.click_id, result.rate_bps) == (later.pk, 800)


def test_a_cancelled_rate_change_never_applies():
    product = ProductFactory()
    shop = shop_with(product)
    rate(product, 1500, T - timedelta(days=30))
    rate(product, 500, T - timedelta(days=1), cancelled_at=T - timedelta(days=2))
    click(share_link_for(shop=shop), at=T - timedelta(hours=1))

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert result.rate_bps == 1500


def test_a_product_without_a_rate_is_credited_at_zero_and_earns_nothing():
    product = ProductFactory()
    shop = shop_with(product)
    click(share_link_for(shop=shop), at=T - timedelta(hours=1))

    result = attribution_resolve(buyer=None, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id, result.rate_bps, result.earns_commission) == (
        "last_click",
        shop.pk,
        0,
        False,
    )


# --- self purchase and self-referral -------------------------------------------------------


def test_a_shopkeeper_buying_from_their_own_shop_is_a_self_purchase_with_no_commission():
    product = ProductFactory()
    shop = shop_with(product)
    rate(product, 1500, T - timedelta(days=30))
    click(share_link_for(shop=shop), at=T - timedelta(hours=1), key=KEEPER_DEVICE, user=shop.owner)

    result = attribution_resolve(buyer=shop.owner, visitor_key=KEEPER_DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id, result.shopkeeper_id) == ("self_purchase", shop.pk, shop.owner_id)
    assert (result.rate_bps, result.member_price_discount_bps, result.earns_commission) == (0, 1500, False)


def test_self_purchase_beats_a_click_on_another_shop_that_carries_the_product():
    product = ProductFactory()
    own, other = shop_with(product), shop_with(product)
    rate(product, 1000, T - timedelta(days=30))
    click(share_link_for(shop=other), at=T - timedelta(hours=1), key=KEEPER_DEVICE, user=own.owner)

    result = attribution_resolve(buyer=own.owner, visitor_key=KEEPER_DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id, result.rate_bps, result.member_price_discount_bps) == (
        "self_purchase",
        own.pk,
        0,
        1000,
    )


def test_a_buyer_clicking_on_the_shopkeepers_device_is_held_for_review():
    product = ProductFactory()
    shop = shop_with(product)
    rate(product, 1000, T - timedelta(days=30))
    link = share_link_for(shop=shop)
    # The shopkeeper once used this device signed in ...
    click(link, at=T - timedelta(days=20), key=KEEPER_DEVICE, user=shop.owner, ip="192.0.2.1")
    # ... and a second account clicks and buys from it.
    sock_puppet = UserFactory()
    click(link, at=T - timedelta(hours=1), key=KEEPER_DEVICE, user=sock_puppet, ip="198.51.100.99")

    result = attribution_resolve(buyer=sock_puppet, visitor_key=KEEPER_DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id, result.rate_bps) == ("last_click", shop.pk, 1000)
    assert (result.held_for_review, result.reason) == (True, "shared_device")


def test_a_buyer_on_the_shopkeepers_network_is_held_for_review():
    product = ProductFactory()
    shop = shop_with(product)
    link = share_link_for(shop=shop)
    click(link, at=T - timedelta(days=3), key=KEEPER_DEVICE, user=shop.owner, ip="192.0.2.1")
    click(link, at=T - timedelta(hours=1), key=DEVICE, ip="192.0.2.1")

    result = attribution_resolve(buyer=UserFactory(), visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.held_for_review, result.reason) == ("last_click", True, "shared_ip")


def test_an_unrelated_buyer_is_not_held():
    product = ProductFactory()
    shop = shop_with(product)
    link = share_link_for(shop=shop)
    click(link, at=T - timedelta(days=3), key=KEEPER_DEVICE, user=shop.owner, ip="192.0.2.1")
    click(link, at=T - timedelta(hours=1), key=DEVICE, ip="198.51.100.20")

    result = attribution_resolve(buyer=UserFactory(), visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.held_for_review, result.reason) == ("last_click", False, "")


def test_self_referral_signals_match_device_ip_address_and_payment():
    shop = ShopFactory()
    buyer = UserFactory()
    link = share_link_for(shop=shop)
    click(link, at=T - timedelta(days=2), key=KEEPER_DEVICE, user=shop.owner, ip="192.0.2.1")
    click(link, at=T - timedelta(days=1), key=DEVICE, user=buyer, ip="192.0.2.1")
    fingerprint_record(user=shop.owner, kind="address", value="1 Main St,  Springfield  ", at=T - timedelta(days=9))
    fingerprint_record(user=shop.owner, kind="payment", value="card_fp_abc", at=T - timedelta(days=9))

    signals = self_referral_signals(
        shopkeeper_id=shop.owner_id,
        buyer_id=buyer.pk,
        visitor_key=KEEPER_DEVICE,
        address_fingerprint="1 MAIN ST, springfield",
        payment_fingerprint="card_fp_abc",
        at=T,
    )

    assert signals == ["shared_device", "shared_ip", "shared_address", "shared_payment"]
    assert (
        self_referral_signals(
            shopkeeper_id=shop.owner_id,
            buyer_id=UserFactory().pk,
            visitor_key=OTHER_DEVICE,
            address_fingerprint="2 Other Rd",
            payment_fingerprint="card_fp_xyz",
            at=T,
        )
        == []
    )
    assert self_referral_signals(shopkeeper_id=shop.owner_id, buyer_id=shop.owner_id, visitor_key=None, at=T) == [
        "same_account"
    ]


def test_fingerprints_are_stored_hashed_once_per_value():
    user = UserFactory()

    fingerprint_record(user=user, kind="address", value="1 Main St", at=T)
    fingerprint_record(user=user, kind="address", value=" 1 main st ", at=T + timedelta(days=1))

    stored = Fingerprint.objects.get()
    assert (stored.kind, stored.last_seen_at) == ("address", T + timedelta(days=1))
    assert "main" not in stored.digest.lower() and len(stored.digest) == 64


# --- customer binding ----------------------------------------------------------------------


def test_binding_is_off_by_default():
    shop = ShopFactory()

    click(share_link_for(shop=shop), at=T, user=UserFactory())

    assert not CustomerBinding.objects.exists()


def test_a_binding_wins_over_later_clicks_when_enabled(binding_days: int):
    product = ProductFactory()
    first, second = shop_with(product), shop_with(product)
    rate(product, 1000, T - timedelta(days=90))
    buyer = UserFactory()
    first_click = click(share_link_for(shop=first), at=T - timedelta(days=20), user=buyer)
    click(share_link_for(shop=second), at=T - timedelta(hours=1), user=buyer)

    binding = CustomerBinding.objects.get(customer=buyer)
    assert (binding.shop_id, binding.click_id, binding.bound_at, binding.bound_until) == (
        first.pk,
        first_click.pk,
        T - timedelta(days=20),
        T + timedelta(days=10),
    )
    result = attribution_resolve(buyer=buyer, visitor_key=DEVICE, product_id=product.pk, at=T)
    assert (result.rule, result.shop_id, result.click_id, result.rate_bps) == (
        "binding",
        first.pk,
        first_click.pk,
        1000,
    )


def test_with_binding_off_the_same_clicks_go_to_the_last_click(binding_days: int, settings: Any):
    product = ProductFactory()
    first, second = shop_with(product), shop_with(product)
    buyer = UserFactory()
    click(share_link_for(shop=first), at=T - timedelta(days=20), user=buyer)
    click(share_link_for(shop=second), at=T - timedelta(hours=1), user=buyer)
    settings.GRASSROOTS = {**settings.GRASSROOTS, "CUSTOMER_BINDING_DAYS": 0}

    result = attribution_resolve(buyer=buyer, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id) == ("last_click", second.pk)


def test_a_bound_shop_that_does_not_carry_the_product_leaves_it_to_the_last_click(binding_days: int):
    product = ProductFactory()
    bound_shop, seller = ShopFactory(), shop_with(product)
    buyer = UserFactory()
    click(share_link_for(shop=bound_shop), at=T - timedelta(days=2), user=buyer)
    click(share_link_for(shop=seller), at=T - timedelta(days=1), user=buyer)

    result = attribution_resolve(buyer=buyer, visitor_key=DEVICE, product_id=product.pk, at=T)

    assert (result.rule, result.shop_id) == ("last_click", seller.pk)


def test_an_expired_binding_is_replaced_by_the_next_click(binding_days: int):
    first, second = ShopFactory(), ShopFactory()
    buyer = UserFactory()
    click(share_link_for(shop=first), at=T - timedelta(days=40), user=buyer)

    click(share_link_for(shop=second), at=T, user=buyer)

    binding = CustomerBinding.objects.get(customer=buyer)
    assert (binding.shop_id, binding.bound_at, binding.bound_until) == (second.pk, T, T + timedelta(days=30))


def test_a_shopkeeper_is_never_bound_to_their_own_shop_and_bots_never_bind(binding_days: int):
    shop = ShopFactory()
    link = share_link_for(shop=shop)

    click(link, at=T, user=shop.owner)
    click(link, at=T, user=UserFactory(), ua="Twitterbot/1.0")

    assert not CustomerBinding.objects.exists()


def test_a_visitor_who_signs_up_is_bound_to_the_shop_they_came_from(binding_days: int):
    product = ProductFactory()
    shop = shop_with(product)
    came_from = click(share_link_for(shop=shop), at=T - timedelta(days=1))
    click(share_link_for(shop=shop), at=T - timedelta(hours=1), key=OTHER_DEVICE, ua="Slackbot 1.0")
    newcomer = UserFactory()

    binding = binding_on_signup(user=newcomer, visitor_key=DEVICE, at=T)

    assert binding is not None
    assert (binding.customer_id, binding.shop_id, binding.click_id, binding.bound_until) == (
        newcomer.pk,
        shop.pk,
        came_from.pk,
        T + timedelta(days=30),
    )
    result = attribution_resolve(buyer=newcomer, visitor_key=OTHER_DEVICE, product_id=product.pk, at=T)
    assert (result.rule, result.shop_id) == ("binding", shop.pk)


def test_signup_binding_needs_the_setting_a_device_and_a_recent_click(binding_days: int, settings: Any):
    shop = ShopFactory()
    click(share_link_for(shop=shop), at=T - timedelta(days=8))

    assert binding_on_signup(user=UserFactory(), visitor_key=DEVICE, at=T) is None
    assert binding_on_signup(user=UserFactory(), visitor_key=None, at=T) is None
    settings.GRASSROOTS = {**settings.GRASSROOTS, "CUSTOMER_BINDING_DAYS": 0}
    click(share_link_for(shop=shop), at=T - timedelta(hours=1))
    assert binding_on_signup(user=UserFactory(), visitor_key=DEVICE, at=T) is None
    assert not CustomerBinding.objects.exists()


# --- many products, fixed queries ----------------------------------------------------------


def _checkout_scenario(count: int) -> tuple[Any, list[int]]:
    """A buyer who owns a shop with one of the products, is bound to another shop, clicked two
    more shops inside the window and one before it; `count` products spread over all of them."""
    buyer = UserFactory()
    products = [ProductFactory() for _ in range(count)]
    own = ShopFactory(owner=buyer)
    bound, recent, older, stale = ShopFactory(), ShopFactory(), ShopFactory(), ShopFactory()
    for index, product in enumerate(products):
        rate(product, 1000 + index, T - timedelta(days=30))
        shop = (own, bound, recent, older, stale)[index % 5]
        shop.items.create(product=product)
    click(share_link_for(shop=bound), at=T - timedelta(days=2), user=buyer)
    click(share_link_for(shop=recent), at=T - timedelta(days=1), key=DEVICE)
    click(share_link_for(shop=older), at=T - timedelta(days=3), key=DEVICE, user=buyer)
    click(share_link_for(shop=stale), at=T - timedelta(days=9), key=DEVICE)
    return buyer, [product.pk for product in products]


def _clicked_shops_scenario(count: int) -> tuple[Any, list[int]]:
    """`count` products, each in its own shop, each shop clicked at a different time."""
    buyer = UserFactory()
    ids = []
    for index in range(count):
        product = ProductFactory()
        rate(product, 1000 + index, T - timedelta(days=30))
        shop = shop_with(product)
        click(share_link_for(shop=shop), at=T - timedelta(hours=index + 1), user=buyer)
        ids.append(product.pk)
    return buyer, ids


def test_resolve_many_uses_the_same_number_of_queries_for_1_and_10_products():
    buyer_one, ids_one = _clicked_shops_scenario(1)
    buyer_ten, ids_ten = _clicked_shops_scenario(10)

    with CaptureQueriesContext(connection) as one:
        single = attribution_resolve_many(buyer=buyer_one, visitor_key=DEVICE, product_ids=ids_one, at=T)
    with CaptureQueriesContext(connection) as ten:
        results = attribution_resolve_many(buyer=buyer_ten, visitor_key=DEVICE, product_ids=ids_ten, at=T)

    assert len(one) == len(ten) <= 6
    assert (single[ids_one[0]].rule, single[ids_one[0]].rate_bps) == ("last_click", 1000)
    assert [(results[pid].rule, results[pid].rate_bps) for pid in ids_ten] == [
        ("last_click", 1000 + index) for index in range(10)
    ]


def test_every_rule_at_once_costs_the_same_queries_for_5_and_10_products(binding_days: int):
    buyer_five, ids_five = _checkout_scenario(5)
    buyer_ten, ids_ten = _checkout_scenario(10)

    with CaptureQueriesContext(connection) as five:
        attribution_resolve_many(buyer=buyer_five, visitor_key=DEVICE, product_ids=ids_five, at=T)
    with CaptureQueriesContext(connection) as ten:
        results = attribution_resolve_many(buyer=buyer_ten, visitor_key=DEVICE, product_ids=ids_ten, at=T)

    assert len(five) == len(ten) == 6
    rules = [results[pid].rule for pid in ids_ten]
    assert rules == ["self_purchase", "binding", "last_click", "last_click", "expired"] * 2


def test_resolve_many_gives_the_same_answer_as_resolve_one_by_one(binding_days: int):
    buyer, ids = _checkout_scenario(10)

    many = attribution_resolve_many(buyer=buyer, visitor_key=DEVICE, product_ids=ids, at=T)

    assert many == {pid: attribution_resolve(buyer=buyer, visitor_key=DEVICE, product_id=pid, at=T) for pid in ids}
    assert many[ids[2]].rate_bps == 1002
    assert many[ids[0]].member_price_discount_bps == 1000


def test_resolve_many_of_nothing_is_empty_and_free(django_assert_num_queries: Any):
    with django_assert_num_queries(0):
        assert attribution_resolve_many(buyer=None, visitor_key=DEVICE, product_ids=[], at=T) == {}
