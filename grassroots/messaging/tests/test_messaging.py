from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from grassroots.accounts.tests.factories import CuratorFactory, UserFactory, bearer_headers
from grassroots.catalog.models import Product
from grassroots.catalog.tests.factories import ProductFactory
from grassroots.core.errors import NotFound, PermissionDenied, RateLimited, ValidationFailed
from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import MerchantFactory, MerchantMemberFactory
from grassroots.messaging.models import Conversation, Message
from grassroots.messaging.selectors import messaging_unread_count
from grassroots.messaging.services import (
    conversation_mark_read,
    conversation_open,
    conversation_start_or_get,
    message_moderate,
)
from grassroots.messaging.tests.factories import conversation_between, conversation_with_brand, send
from grassroots.notifications.models import Notification, NotificationKind
from grassroots.social.models import Block

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_limit(settings: Any) -> None:
    settings.GRASSROOTS = {**settings.GRASSROOTS, "MESSAGES_PER_HOUR": 2}


def nothing_written() -> bool:
    return not Message.objects.exists() and not Notification.objects.exists()


# --- conversations -------------------------------------------------------------------------------


def test_one_conversation_per_pair_whichever_side_starts() -> None:
    alice, bob = UserFactory(), UserFactory()
    first = conversation_between(alice, bob)
    assert conversation_between(bob, alice).pk == first.pk
    assert conversation_between(alice, bob).pk == first.pk
    merchant = MerchantFactory()
    brand = conversation_with_brand(alice, merchant)
    assert conversation_with_brand(alice, merchant).pk == brand.pk
    assert conversation_with_brand(bob, merchant).pk != brand.pk
    assert Conversation.objects.count() == 3


def test_start_refuses_bad_recipients() -> None:
    alice = UserFactory()
    merchant = MerchantFactory(owner=alice)
    with pytest.raises(ValidationFailed) as error:
        conversation_start_or_get(user=alice, with_user_id=alice.pk)
    assert error.value.code == "self_message"
    with pytest.raises(ValidationFailed):
        conversation_start_or_get(user=alice, merchant_id=merchant.pk)  # own brand
    with pytest.raises(ValidationFailed):
        conversation_start_or_get(user=alice)
    with pytest.raises(NotFound):
        conversation_start_or_get(user=alice, with_user_id=10**9)
    with pytest.raises(NotFound):
        conversation_start_or_get(user=alice, merchant_id=MerchantFactory(status=Merchant.Status.APPLIED).pk)
    unlisted = ProductFactory(is_listed=False, status=Product.Status.DRAFT)
    bob = UserFactory()
    with pytest.raises(ValidationFailed) as error:
        conversation_start_or_get(user=bob, merchant_id=unlisted.merchant_id, product_id=unlisted.pk)
    assert error.value.code == "product_unavailable"
    with pytest.raises(ValidationFailed) as error:
        conversation_start_or_get(user=bob, merchant_id=MerchantFactory().pk, product_id=ProductFactory().pk)
    assert error.value.code == "product_mismatch"
    assert not Conversation.objects.exists()


def test_brand_members_all_see_and_answer_as_the_brand(django_capture_on_commit_callbacks: Any) -> None:
    buyer = UserFactory()
    merchant = MerchantFactory()
    staff = MerchantMemberFactory(merchant=merchant).user
    product = ProductFactory(merchant=merchant)
    with django_capture_on_commit_callbacks(execute=True):
        conversation, message = conversation_open(
            user=buyer, merchant_id=merchant.pk, product_id=product.pk, body="Is it organic?"
        )
    assert message is not None and message.product_id == product.pk
    assert conversation.product_id == product.pk
    assert messaging_unread_count(user_id=merchant.owner.pk) == 1
    assert messaging_unread_count(user_id=staff.pk) == 1
    assert messaging_unread_count(user_id=buyer.pk) == 0
    assert set(Notification.objects.filter(kind="message").values_list("recipient_id", flat=True)) == {
        merchant.owner.pk,
        staff.pk,
    }
    with django_capture_on_commit_callbacks(execute=True):
        reply = send(staff, conversation, "Yes, certified.")
    assert reply.sender_side == "b"
    assert messaging_unread_count(user_id=buyer.pk) == 1
    assert messaging_unread_count(user_id=merchant.owner.pk) == 0  # the brand answered: read for the brand
    note = Notification.objects.get(recipient=buyer)
    assert note.data["brand"] == merchant.name
    conversation_mark_read(user=buyer, conversation_id=conversation.pk)
    assert messaging_unread_count(user_id=buyer.pk) == 0
    note.refresh_from_db()
    assert note.read_at is not None


def test_message_notification_is_deduped_while_unread(django_capture_on_commit_callbacks: Any) -> None:
    alice, bob = UserFactory(), UserFactory()
    conversation = conversation_between(alice, bob)
    with django_capture_on_commit_callbacks(execute=True):
        for text in ("one", "two", "three"):
            send(alice, conversation, text)
    assert Notification.objects.filter(recipient=bob, kind=NotificationKind.MESSAGE).count() == 1
    assert messaging_unread_count(user_id=bob.pk) == 3
    conversation_mark_read(user=bob, conversation_id=conversation.pk)
    assert messaging_unread_count(user_id=bob.pk) == 0
    with django_capture_on_commit_callbacks(execute=True):
        send(alice, conversation, "four")
        send(alice, conversation, "five")
    assert Notification.objects.filter(recipient=bob, kind=NotificationKind.MESSAGE).count() == 2
    assert Notification.objects.filter(recipient=bob, read_at__isnull=True).count() == 1
    assert not Notification.objects.filter(recipient=alice).exists()


# --- bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who_blocks", ["recipient", "sender"])
def test_blocked_either_way_is_403_and_writes_nothing(who_blocks: str, client: Any) -> None:
    alice, bob = UserFactory(), UserFactory()
    conversation = conversation_between(alice, bob)
    if who_blocks == "recipient":
        Block.objects.create(blocker=bob, blocked=alice)
    else:
        Block.objects.create(blocker=alice, blocked=bob)
    with pytest.raises(PermissionDenied) as error:
        send(alice, conversation)
    assert error.value.code == "blocked"
    with pytest.raises(PermissionDenied):
        conversation_start_or_get(user=alice, with_user_id=bob.pk)
    response = client.post(
        f"/api/v1/messages/conversations/{conversation.pk}/messages",
        {"body": "hi"},
        content_type="application/json",
        **bearer_headers(alice),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "blocked"
    response = client.post(
        "/api/v1/messages/conversations",
        {"user_handle": bob.handle, "body": "hi"},
        content_type="application/json",
        **bearer_headers(alice),
    )
    assert response.status_code == 403
    assert nothing_written()


def test_a_brand_whose_member_blocked_you_cannot_be_messaged() -> None:
    buyer = UserFactory()
    merchant = MerchantFactory()
    conversation = conversation_with_brand(buyer, merchant)
    Block.objects.create(blocker=merchant.owner, blocked=buyer)
    with pytest.raises(PermissionDenied):
        send(buyer, conversation)
    with pytest.raises(PermissionDenied):
        send(merchant.owner, conversation)
    with pytest.raises(PermissionDenied):
        conversation_start_or_get(user=buyer, merchant_id=merchant.pk)
    assert nothing_written()


def test_non_participants_get_404_everywhere(client: Any) -> None:
    alice, bob, eve = UserFactory(), UserFactory(), UserFactory()
    conversation = conversation_between(alice, bob)
    send(alice, conversation, "secret")
    with pytest.raises(NotFound):
        send(eve, conversation)
    with pytest.raises(NotFound):
        conversation_mark_read(user=eve, conversation_id=conversation.pk)
    headers = bearer_headers(eve)
    base = f"/api/v1/messages/conversations/{conversation.pk}"
    assert client.get(base, **headers).status_code == 404
    assert client.get(f"{base}/messages", **headers).status_code == 404
    assert client.post(f"{base}/messages", {"body": "x"}, content_type="application/json", **headers).status_code == 404
    assert client.post(f"{base}/read", **headers).status_code == 404
    assert client.get("/api/v1/messages/conversations", **headers).json()["items"] == []
    client.force_login(eve)
    assert client.get(reverse("messaging:thread", args=[conversation.pk])).status_code == 404
    assert client.post(reverse("messaging:thread", args=[conversation.pk]), {"body": "x"}).status_code == 404
    assert b"secret" not in client.get(reverse("messaging:inbox")).content
    assert Message.objects.count() == 1


@pytest.mark.parametrize(("body", "code"), [("", "empty"), ("   \n ", "empty"), ("x" * 1001, "too_long")])
def test_empty_or_too_long_is_422(body: str, code: str, client: Any) -> None:
    alice, bob = UserFactory(), UserFactory()
    conversation = conversation_between(alice, bob)
    with pytest.raises(ValidationFailed) as error:
        send(alice, conversation, body)
    assert error.value.code == code
    response = client.post(
        f"/api/v1/messages/conversations/{conversation.pk}/messages",
        {"body": body},
        content_type="application/json",
        **bearer_headers(alice),
    )
    assert response.status_code == 422
    assert "body" in response.json()["fields"]
    client.force_login(alice)
    response = client.post(reverse("messaging:thread", args=[conversation.pk]), {"body": body})
    assert response.status_code == 422
    # Starting with a bad first message leaves no conversation behind.
    carol = UserFactory()
    response = client.post(reverse("messaging:start"), {"user": carol.handle, "body": body})
    assert response.status_code == 422
    assert not Conversation.objects.exclude(pk=conversation.pk).exists()
    assert nothing_written()


def test_message_to_self_is_422(client: Any) -> None:
    alice = UserFactory()
    response = client.post(
        "/api/v1/messages/conversations",
        {"user_id": alice.pk, "body": "me"},
        content_type="application/json",
        **bearer_headers(alice),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "self_message"
    assert not Conversation.objects.exists()


def test_rate_limit_is_429_with_retry_after(low_limit: None, client: Any) -> None:
    alice, bob = UserFactory(), UserFactory()
    conversation = conversation_between(alice, bob)
    headers = bearer_headers(alice)
    url = f"/api/v1/messages/conversations/{conversation.pk}/messages"
    for _ in range(2):
        assert client.post(url, {"body": "hi"}, content_type="application/json", **headers).status_code == 201
    response = client.post(url, {"body": "hi"}, content_type="application/json", **headers)
    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 3600
    assert Message.objects.count() == 2
    with pytest.raises(RateLimited):
        send(alice, conversation)
    client.force_login(alice)
    page = client.post(reverse("messaging:thread", args=[conversation.pk]), {"body": "hi"})
    assert page.status_code == 429 and page["Retry-After"]


# --- moderation ----------------------------------------------------------------------------------


def test_moderation_hides_removes_and_restores_and_tells_the_sender(
    client: Any, django_capture_on_commit_callbacks: Any
) -> None:
    alice, bob = UserFactory(), UserFactory()
    curator = CuratorFactory()
    conversation = conversation_between(alice, bob)
    message = send(alice, conversation, "buy my fake bags")
    with django_capture_on_commit_callbacks(execute=True):
        hidden = message_moderate(message_id=message.pk, action="hide", reason="Spam", moderator=curator)
    assert (hidden.status, hidden.moderation_reason) == ("hidden", "Spam")
    notice = Notification.objects.get(recipient=alice, kind=NotificationKind.MODERATION)
    assert notice.data == {"object": "message", "action": "hide", "reason": "Spam"}
    url = f"/api/v1/messages/conversations/{conversation.pk}/messages"
    seen_by_bob = client.get(url, **bearer_headers(bob)).json()["items"][0]
    assert (seen_by_bob["status"], seen_by_bob["body"], seen_by_bob["moderation_reason"]) == ("hidden", "", "")
    seen_by_alice = client.get(url, **bearer_headers(alice)).json()["items"][0]
    assert (seen_by_alice["body"], seen_by_alice["moderation_reason"]) == ("buy my fake bags", "Spam")
    client.force_login(bob)
    page = client.get(reverse("messaging:thread", args=[conversation.pk])).content
    assert b"fake bags" not in page and b"hidden by moderators" in page

    message_moderate(message_id=message.pk, action="remove", reason="Counterfeit", moderator=curator)
    seen_by_alice = client.get(url, **bearer_headers(alice)).json()["items"][0]
    assert seen_by_alice["body"] == ""
    restored = message_moderate(message_id=message.pk, action="restore", reason="", moderator=curator)
    assert (restored.status, restored.moderation_reason) == ("visible", "")
    with pytest.raises(ValidationFailed):
        message_moderate(message_id=message.pk, action="explode", reason="", moderator=curator)
    with pytest.raises(NotFound):
        message_moderate(message_id=10**9, action="hide", reason="", moderator=curator)


# --- pages ---------------------------------------------------------------------------------------


def test_ask_about_a_product_from_its_page(client: Any) -> None:
    buyer = UserFactory()
    product = ProductFactory()
    client.force_login(buyer)
    page = client.get(reverse("catalog:product", args=[product.slug])).content.decode()
    start = f"{reverse('messaging:start')}?product={product.pk}&amp;merchant={product.merchant_id}"
    assert start in page
    form = client.get(start.replace("&amp;", "&"))
    assert form.status_code == 200 and product.title.encode() in form.content
    response = client.post(
        reverse("messaging:start"), {"product": product.pk, "merchant": product.merchant_id, "body": "Size?"}
    )
    conversation = Conversation.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("messaging:thread", args=[conversation.pk])
    assert conversation.merchant_id == product.merchant_id and conversation.product_id == product.pk
    thread = client.get(response["Location"])
    assert b"Size?" in thread.content and product.title.encode() in thread.content
    assert client.get(f"{reverse('messaging:start')}?product=999999").status_code == 404
    assert client.get(f"{reverse('messaging:start')}?user=nobody").status_code == 404
    client.logout()
    assert client.get(start.replace("&amp;", "&")).status_code == 302  # sign in first


def test_thread_escapes_content_and_appends_with_htmx(client: Any) -> None:
    alice, bob = UserFactory(), UserFactory()
    conversation = conversation_between(alice, bob)
    client.force_login(alice)
    url = reverse("messaging:thread", args=[conversation.pk])
    response = client.post(url, {"body": "<script>alert(1)</script>"})
    assert response.status_code == 302
    assert Message.objects.get().body == "<script>alert(1)</script>"  # stored as text
    client.force_login(bob)
    page = client.get(url).content
    assert b"<script>alert(1)</script>" not in page
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in page
    fragment = client.post(url, {"body": "hello"}, HTTP_HX_REQUEST="true")
    assert fragment.status_code == 200
    assert b'<li class="message mine"' in fragment.content and b"hello" in fragment.content
    assert b'hx-swap-oob="true"' in fragment.content  # a fresh, empty composer
    error = client.post(url, {"body": ""}, HTTP_HX_REQUEST="true")
    # htmx swaps only 2xx answers: the error text goes into the form's error slot.
    assert error["HX-Retarget"] == "#message-error" and error.status_code == 200
    assert b"Write a message." in error.content


def test_inbox_shows_last_message_and_unread_in_fixed_queries(client: Any, django_assert_max_num_queries: Any) -> None:
    me = UserFactory()
    conversation_between(me, UserFactory())  # no message yet: not in the inbox

    def add(n: int) -> None:  # a member's and a brand's conversation, each with a message to me
        for _ in range(n):
            other = UserFactory()
            send(other, conversation_between(other, me), "ping", product_id=ProductFactory().pk)
            merchant = MerchantFactory()
            brand = conversation_with_brand(me, merchant, ProductFactory(merchant=merchant))
            send(merchant.owner, brand, "from the brand")

    add(2)
    client.force_login(me)
    client.get(reverse("messaging:inbox"))
    with django_assert_max_num_queries(12) as few:
        response = client.get(reverse("messaging:inbox"))
    assert response.status_code == 200
    add(6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse("messaging:inbox"))
    assert response.content.count(b'class="conversation unread"') == 16
    assert b"from the brand" in response.content
    with django_assert_max_num_queries(len(few.captured_queries) + 2):
        api = client.get("/api/v1/messages/conversations?limit=50")
    assert len(api.json()["items"]) == 16
    assert messaging_unread_count(user_id=me.pk) == 16


def test_thread_and_messages_api_cost_fixed_queries(client: Any, django_assert_max_num_queries: Any) -> None:
    alice, bob = UserFactory(), UserFactory()
    conversation = conversation_between(alice, bob)
    for i in range(3):
        send(bob, conversation, f"m{i}", product_id=ProductFactory().pk)
    headers = bearer_headers(alice)
    url = f"/api/v1/messages/conversations/{conversation.pk}/messages"
    client.get(url, **headers)
    with django_assert_max_num_queries(10) as few:
        client.get(url, **headers)
    for i in range(20):
        send(alice if i % 2 else bob, conversation, f"n{i}", product_id=ProductFactory().pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(url + "?limit=10", **headers).json()
    assert [m["body"] for m in body["items"]][:2] == ["n19", "n18"]
    older = client.get(url + f"?limit=10&cursor={body['next_cursor']}", **headers).json()
    assert older["items"][0]["body"] == "n9"
    forged = client.get(url + "?cursor=WyJ4IiwgMV0", **headers)  # ["x", 1]: not a date-time
    assert forged.status_code == 422 and forged.json()["code"] == "invalid_cursor"
    client.force_login(alice)
    client.get(reverse("messaging:thread", args=[conversation.pk]))
    with django_assert_max_num_queries(16) as page_queries:
        client.get(reverse("messaging:thread", args=[conversation.pk]))
    assert len(page_queries.captured_queries) <= 16


def test_api_start_send_list_and_read(client: Any, django_capture_on_commit_callbacks: Any) -> None:
    buyer = UserFactory()
    product = ProductFactory()
    headers = bearer_headers(buyer)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/messages/conversations",
            {"merchant_id": product.merchant_id, "product_id": product.pk, "body": "Hi"},
            content_type="application/json",
            **headers,
        )
    assert response.status_code == 200, response.content
    data = response.json()
    conversation_id = data["conversation"]["id"]
    assert data["conversation"]["is_brand"] and data["conversation"]["product"]["id"] == product.pk
    assert data["message"]["mine"] and data["message"]["product"]["id"] == product.pk
    owner_headers = bearer_headers(Merchant.objects.get().memberships.get().user)
    assert client.get("/api/v1/messages/unread-count", **owner_headers).json() == {"unread": 1}
    listed = client.get("/api/v1/messages/conversations", **owner_headers).json()["items"]
    assert listed[0]["with_handle"] == buyer.handle and listed[0]["unread"] == 1
    response = client.post(f"/api/v1/messages/conversations/{conversation_id}/read", **owner_headers)
    assert response.status_code == 200 and response.json()["unread"] == 0
    assert client.get("/api/v1/messages/unread-count", **owner_headers).json() == {"unread": 0}
    response = client.post(
        "/api/v1/messages/conversations",
        {"merchant_id": product.merchant_id, "user_id": buyer.pk},
        content_type="application/json",
        **headers,
    )
    assert response.status_code == 422
