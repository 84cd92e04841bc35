from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from grassroots.accounts.tests.factories import UserFactory, bearer_headers
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.core.errors import ValidationFailed
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.notifications import selectors, services
from grassroots.notifications.models import Notification, NotificationKind, NotificationPreference
from grassroots.notifications.selectors import notification_text, notifications_unread_count
from grassroots.notifications.services import (
    CommissionAvailable,
    notification_preferences_set,
    notification_send,
    notifications_mark_read,
    notify_commission_available,
    notify_commission_available_many,
)
from grassroots.notifications.tests.factories import NotificationFactory
from grassroots.orders import services as orders
from grassroots.orders.models import Order
from grassroots.orders.tests.factories import AddressFactory
from grassroots.social.models import Block, Mute

pytestmark = pytest.mark.django_db


def send(recipient: Any, actor: Any = None, **kwargs: Any) -> Notification | None:
    kwargs.setdefault("kind", NotificationKind.LIKE)
    return notification_send(recipient_id=recipient.pk, actor_id=actor.pk if actor else None, **kwargs)


# --- sending -------------------------------------------------------------------------------------


def test_send_records_and_counts_unread() -> None:
    alice, bob = UserFactory(), UserFactory()
    assert send(alice, bob, data={"title": "Green tea"}) is not None
    assert notifications_unread_count(user_id=alice.pk) == 1
    assert notifications_unread_count(user_id=bob.pk) == 0
    assert notifications_unread_count(user_id=None) == 0


def test_nobody_is_notified_about_themselves() -> None:
    alice = UserFactory()
    assert send(alice, alice) is None
    assert not Notification.objects.exists()


def test_preferences_are_respected_and_moderation_is_always_on() -> None:
    alice, bob = UserFactory(), UserFactory()
    notification_preferences_set(user=alice, preferences={"like": False, "follow": True})
    assert send(alice, bob, kind=NotificationKind.LIKE) is None
    assert send(alice, bob, kind=NotificationKind.FOLLOW) is not None
    assert selectors.notification_preferences(user_id=alice.pk)["like"] is False
    notification_preferences_set(user=alice, preferences={"like": True})
    assert send(alice, bob, kind=NotificationKind.LIKE) is not None
    assert not NotificationPreference.objects.filter(user=alice).exists()

    with pytest.raises(ValidationFailed) as error:
        notification_preferences_set(user=alice, preferences={"moderation": False, "like": False})
    assert error.value.fields == {"moderation": "invalid"}
    assert selectors.notification_preferences(user_id=alice.pk)["like"] is True  # nothing written
    assert "moderation" not in selectors.notification_preferences(user_id=alice.pk)
    NotificationPreference.objects.create(user=alice, kind="moderation", enabled=False)  # e.g. from old data
    assert send(alice, kind=NotificationKind.MODERATION, data={"object": "note", "action": "hide"}) is not None


def test_dedupe_key_collapses_repeats_even_when_long() -> None:
    alice, bob = UserFactory(), UserFactory()
    assert send(alice, bob, dedupe_key="like:1:2") is not None
    assert send(alice, bob, dedupe_key="like:1:2") is None
    long_key = "x" * 300
    assert send(alice, bob, dedupe_key=long_key) is not None
    assert send(alice, bob, dedupe_key=long_key) is None
    assert send(alice, bob, dedupe_key=long_key + "y") is not None
    assert Notification.objects.filter(recipient=alice).count() == 3
    # Another recipient may share the key.
    assert send(bob, alice, dedupe_key="like:1:2") is not None


@pytest.mark.parametrize("how", ["recipient_blocked", "actor_blocked", "muted"])
def test_blocks_and_mutes_suppress(how: str) -> None:
    alice, bob = UserFactory(), UserFactory()
    if how == "recipient_blocked":
        Block.objects.create(blocker=alice, blocked=bob)
    elif how == "actor_blocked":
        Block.objects.create(blocker=bob, blocked=alice)
    else:
        Mute.objects.create(muter=alice, muted=bob)
    assert send(alice, bob, kind=NotificationKind.FOLLOW) is None
    assert not Notification.objects.exists()


# --- reading -------------------------------------------------------------------------------------


def test_mark_read_touches_only_the_members_own_notifications() -> None:
    alice, bob = UserFactory(), UserFactory()
    mine = [NotificationFactory(recipient=alice) for _ in range(3)]
    theirs = NotificationFactory(recipient=bob)
    assert notifications_mark_read(user=alice, ids=[mine[0].pk, theirs.pk]) == 1
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert notifications_unread_count(user_id=alice.pk) == 2
    assert notifications_mark_read(user=alice, all=True) == 2
    assert notifications_unread_count(user_id=alice.pk) == 0
    assert notifications_unread_count(user_id=bob.pk) == 1
    with pytest.raises(ValidationFailed):
        notifications_mark_read(user=alice, ids=[])
    with pytest.raises(ValidationFailed):
        notifications_mark_read(user=alice, ids=list(range(1, 200)))


def test_api_mark_read_is_scoped_to_the_caller(client: Any) -> None:
    alice, bob = UserFactory(), UserFactory()
    mine = NotificationFactory(recipient=alice)
    theirs = NotificationFactory(recipient=bob)
    headers = bearer_headers(alice)
    url = "/api/v1/notifications/read"
    response = client.post(url, {"ids": [theirs.pk]}, content_type="application/json", **headers)
    assert response.status_code == 200, response.content
    assert response.json() == {"marked": 0, "unread": 1}
    theirs.refresh_from_db()
    assert theirs.read_at is None
    response = client.post(url, {"ids": [mine.pk]}, content_type="application/json", **headers)
    assert response.json() == {"marked": 1, "unread": 0}
    response = client.post(url, {}, content_type="application/json", **headers)
    assert response.status_code == 422
    assert response.json()["code"] == "nothing_selected"
    too_big = client.post(url, {"ids": [2**63]}, content_type="application/json", **headers)
    assert too_big.status_code == 422  # past a 64-bit id: refused before the database sees it
    NotificationFactory(recipient=alice)
    response = client.post(url, {"all": True}, content_type="application/json", **headers)
    assert response.json() == {"marked": 1, "unread": 0}
    assert client.post(url, {"all": True}, content_type="application/json").status_code == 401


def test_api_list_unread_count_and_preferences(client: Any, django_assert_max_num_queries: Any) -> None:
    alice = UserFactory()
    for _ in range(25):
        NotificationFactory(recipient=alice, kind=NotificationKind.LIKE, data={"title": "Tea"})
    NotificationFactory(recipient=UserFactory())
    headers = bearer_headers(alice)
    with django_assert_max_num_queries(4):  # token, page
        response = client.get("/api/v1/notifications/?limit=20", **headers)
    body = response.json()
    assert len(body["items"]) == 20 and body["next_cursor"]
    assert body["items"][0]["text"].endswith("liked your note “Tea”")
    assert body["items"][0]["actor"]["handle"]
    response = client.get(f"/api/v1/notifications/?limit=20&cursor={body['next_cursor']}", **headers)
    assert len(response.json()["items"]) == 5 and response.json()["next_cursor"] is None
    assert client.get("/api/v1/notifications/?cursor=%%%", **headers).status_code == 422
    assert client.get("/api/v1/notifications/unread-count", **headers).json() == {"unread": 25}

    prefs = client.get("/api/v1/notifications/preferences", **headers).json()["items"]
    assert {p["kind"] for p in prefs} == {k.value for k in NotificationKind} - {"moderation"}
    assert all(p["enabled"] for p in prefs)
    response = client.put(
        "/api/v1/notifications/preferences", {"like": False}, content_type="application/json", **headers
    )
    assert response.status_code == 200, response.content
    assert {p["kind"]: p["enabled"] for p in response.json()["items"]}["like"] is False
    response = client.put(
        "/api/v1/notifications/preferences", {"bogus": False}, content_type="application/json", **headers
    )
    assert response.status_code == 422
    assert response.json()["fields"] == {"bogus": "invalid"}


# --- pages ---------------------------------------------------------------------------------------


def test_notification_centre_costs_a_fixed_number_of_queries(client: Any, django_assert_max_num_queries: Any) -> None:
    alice = UserFactory()
    client.force_login(alice)
    for _ in range(3):
        NotificationFactory(recipient=alice)
    client.get(reverse("notifications:list"))  # warm up (session, content types)
    with django_assert_max_num_queries(12) as few:
        response = client.get(reverse("notifications:list"))
    assert response.status_code == 200
    for kind in NotificationKind:
        for _ in range(6):
            NotificationFactory(recipient=alice, kind=kind, data={"title": "T", "amount": 100, "currency": "CNY"})
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("notifications:list"))
    assert response.status_code == 200
    assert b"sent you a message" in response.content
    assert response.content.count(b'class="notification unread"') == 20


def test_open_marks_read_and_redirects_only_within_the_site(client: Any) -> None:
    alice, bob = UserFactory(), UserFactory()
    client.force_login(alice)
    local = NotificationFactory(recipient=alice, target_url="/orders/1/")
    external = NotificationFactory(recipient=alice, target_url="https://evil.example/")
    theirs = NotificationFactory(recipient=bob)
    response = client.post(reverse("notifications:open", args=[local.pk]))
    assert response.status_code == 302 and response["Location"] == "/orders/1/"
    local.refresh_from_db()
    assert local.read_at is not None
    response = client.post(reverse("notifications:open", args=[external.pk]))
    assert response["Location"] == reverse("notifications:list")
    assert client.post(reverse("notifications:open", args=[theirs.pk])).status_code == 404
    theirs.refresh_from_db()
    assert theirs.read_at is None
    assert client.get(reverse("notifications:open", args=[local.pk])).status_code == 405


def test_mark_all_read_and_preferences_pages(client: Any) -> None:
    alice = UserFactory()
    other = NotificationFactory(recipient=UserFactory())
    client.force_login(alice)
    NotificationFactory(recipient=alice)
    assert b"Mark all as read" in client.get(reverse("notifications:list")).content
    assert client.post(reverse("notifications:read_all")).status_code == 302
    assert notifications_unread_count(user_id=alice.pk) == 0
    other.refresh_from_db()
    assert other.read_at is None

    page = client.get(reverse("notifications:preferences"))
    assert page.content.count(b'type="checkbox"') == len(NotificationKind) - 1
    kinds = [k.value for k in NotificationKind if k.value not in ("like", "moderation")]
    assert client.post(reverse("notifications:preferences"), {"kinds": kinds}).status_code == 302
    assert selectors.notification_preferences(user_id=alice.pk)["like"] is False
    assert selectors.notification_preferences(user_id=alice.pk)["follow"] is True


def test_pages_need_sign_in(client: Any) -> None:
    response = client.get(reverse("notifications:list"))
    assert response.status_code == 302 and "login" in response["Location"]


# --- the sentences -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("follow", {}, "Ann followed you"),
        ("follow", {"target_kind": "shop"}, "Ann followed your shop"),
        ("like", {"title": "Green tea"}, "Ann liked your note “Green tea”"),
        ("comment", {"excerpt": "Where to buy?"}, "Ann commented on your note: Where to buy?"),
        ("reply", {"excerpt": "Here"}, "Ann replied to your comment: Here"),
        ("mention", {"title": "Spring picks"}, "Ann mentioned you in “Spring picks”"),
        (
            "order_shipped",
            {"order": 12, "carrier": "SF", "tracking": "SF123"},
            "Your order #12 has shipped: SF SF123",
        ),
        (
            "commission_available",
            {"amount": 12990, "currency": "CNY"},
            "Commission of ¥129.90 is available to withdraw",
        ),
        ("message", {}, "Ann sent you a message"),
        ("message", {"brand": "Tea Co"}, "Tea Co replied to your message"),
        ("moderation", {"object": "note", "action": "hide", "reason": "spam"}, "Your note was hidden: spam"),
        ("moderation", {"object": "comment", "action": "remove", "reason": "abuse"}, "Your comment was removed: abuse"),
        ("moderation", {"object": "message", "action": "restore"}, "Your message was restored."),
        ("moderation", {"reason": "x"}, "A moderator reviewed your content: x"),
    ],
)
def test_each_kind_renders_a_sentence(kind: str, data: dict[str, Any], expected: str) -> None:
    notification = Notification(kind=kind, data=data, actor=UserFactory.build(display_name="Ann"))
    assert notification_text(notification) == expected


# --- events from other apps ----------------------------------------------------------------------


def test_order_shipped_notifies_the_buyer_once(django_capture_on_commit_callbacks: Any) -> None:
    buyer = UserFactory()
    address = AddressFactory(owner=buyer)
    merchant = MerchantFactory()
    sku = SkuFactory(product=ProductFactory(merchant=merchant), stock=5)
    checkout = orders.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
    orders.checkout_mark_paid(checkout_id=checkout.pk, intent_id=1)
    order = Order.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_ship(actor=merchant.owner, order=order, carrier="SF Express", tracking_number="SF1234567890")
    notification = Notification.objects.get(recipient=buyer)
    assert notification.kind == NotificationKind.ORDER_SHIPPED
    assert notification.target_url == reverse("orders:detail", args=[order.pk])
    assert notification.data == {"order": order.pk, "carrier": "SF Express", "tracking": "SF1234567890"}
    assert notification.dedupe_key == f"order_shipped:{order.pk}"
    assert notification_text(notification) == f"Your order #{order.pk} has shipped: SF Express SF1234567890"
    # A refused ship (wrong state) sends nothing more.
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(Exception):  # noqa: B017
        orders.order_ship(actor=merchant.owner, order=order, carrier="SF", tracking_number="SF999999")
    assert Notification.objects.filter(recipient=buyer).count() == 1


def test_order_shipped_respects_the_buyers_preference(django_capture_on_commit_callbacks: Any) -> None:
    buyer = UserFactory()
    notification_preferences_set(user=buyer, preferences={"order_shipped": False})
    address = AddressFactory(owner=buyer)
    merchant = MerchantFactory()
    sku = SkuFactory(product=ProductFactory(merchant=merchant), stock=5)
    checkout = orders.checkout_place(buyer=buyer, address_id=address.pk, items=[(sku.pk, 1)])
    orders.checkout_mark_paid(checkout_id=checkout.pk, intent_id=1)
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_ship(actor=merchant.owner, order=Order.objects.get(), carrier="SF", tracking_number="SF1234567")
    assert not Notification.objects.filter(recipient=buyer).exists()


def test_commission_available_is_sent_once_per_settlement() -> None:
    shopkeeper, other = UserFactory(), UserFactory()
    assert notify_commission_available(shopkeeper_id=shopkeeper.pk, amount=500, currency="CNY", settlement_key="7:1")
    assert (
        notify_commission_available(shopkeeper_id=shopkeeper.pk, amount=500, currency="CNY", settlement_key="7:1")
        is None
    )
    assert (
        notify_commission_available(shopkeeper_id=shopkeeper.pk, amount=0, currency="CNY", settlement_key="8") is None
    )
    notification_preferences_set(user=other, preferences={"commission_available": False})
    sent = notify_commission_available_many(
        items=[
            CommissionAvailable(shopkeeper_id=shopkeeper.pk, amount=500, currency="CNY", settlement_key="7:1"),
            CommissionAvailable(shopkeeper_id=shopkeeper.pk, amount=900, currency="USD", settlement_key="7:2"),
            CommissionAvailable(shopkeeper_id=other.pk, amount=900, currency="CNY", settlement_key="7:3"),
        ]
    )
    assert sent == 2  # the repeat is ignored by the database
    rows = Notification.objects.filter(recipient=shopkeeper).order_by("id")
    assert [(n.data["amount"], n.data["currency"]) for n in rows] == [(500, "CNY"), (900, "USD")]
    assert rows[0].target_url == reverse("commissions:dashboard")
    assert not Notification.objects.filter(recipient=other).exists()
    assert services.notification_open(user=other, notification_id=rows[0].pk) is None
