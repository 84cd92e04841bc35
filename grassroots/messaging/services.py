"""Writes for direct messages: start or reopen a conversation, send, mark read, moderate."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from grassroots.catalog.models import Product
from grassroots.catalog.selectors import product_is_public
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, PermissionDenied, ValidationFailed
from grassroots.core.ratelimit import rate_limit_hit
from grassroots.merchants.models import Merchant, MerchantMember
from grassroots.messaging.models import MESSAGE_MAX_LENGTH, Conversation, Message, Side
from grassroots.messaging.selectors import conversation_for_participant, conversation_side
from grassroots.notifications.models import Notification, NotificationKind
from grassroots.notifications.services import MARK_READ_MAX_IDS, notification_send, notifications_mark_read
from grassroots.social.models import Block

MODERATION_ACTIONS = {
    "hide": Message.Status.HIDDEN,
    "remove": Message.Status.REMOVED,
    "restore": Message.Status.VISIBLE,
}


def _user_model() -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model()


def _blocked_with_merchant(*, user_id: int, merchant_id: int) -> bool:
    """A brand conversation is blocked when the member and any of the brand's members blocked each other."""
    staff = MerchantMember.objects.filter(merchant_id=merchant_id).values("user_id")
    return Block.objects.filter(
        Q(blocker_id=user_id, blocked_id__in=staff) | Q(blocked_id=user_id, blocker_id__in=staff)
    ).exists()


def _blocked(*, conversation: Conversation, sender_id: int) -> bool:
    if conversation.merchant_id is not None:
        return _blocked_with_merchant(user_id=conversation.user_a_id, merchant_id=conversation.merchant_id)
    other_id = conversation.user_b_id if sender_id == conversation.user_a_id else conversation.user_a_id
    assert other_id is not None
    return Block.objects.filter(
        Q(blocker_id=sender_id, blocked_id=other_id) | Q(blocker_id=other_id, blocked_id=sender_id)
    ).exists()


def _blocked_error() -> PermissionDenied:
    return PermissionDenied(_("You cannot message this member."), code="blocked")


def _listed_product(*, product_id: int | None, merchant_id: int | None = None) -> Product | None:
    if product_id is None:
        return None
    product = Product.objects.select_related("merchant").filter(pk=product_id).first()
    if product is None or not product_is_public(product):
        raise ValidationFailed(
            _("This product is not available."), code="product_unavailable", fields={"product": "unavailable"}
        )
    if merchant_id is not None and product.merchant_id != merchant_id:
        raise ValidationFailed(
            _("This product is not sold by this brand."), code="product_mismatch", fields={"product": "mismatch"}
        )
    return product


def conversation_start_or_get(
    *, user: Any, with_user_id: int | None = None, merchant_id: int | None = None, product_id: int | None = None
) -> Conversation:
    """The one conversation between `user` and another member or a brand, created on first use.

    Starting writes no message; the product (if any) becomes the conversation's card.
    """
    if (with_user_id is None) == (merchant_id is None):
        raise ValidationFailed(
            _("Choose a member or a brand to message."), code="invalid_recipient", fields={"recipient": "required"}
        )
    if merchant_id is not None:
        merchant = Merchant.objects.filter(pk=merchant_id, status=Merchant.Status.VERIFIED).first()
        if merchant is None:
            raise NotFound(_("Brand not found."))
        if MerchantMember.objects.filter(merchant_id=merchant_id, user_id=user.pk).exists():
            raise ValidationFailed(
                _("You cannot message your own brand."), code="self_message", fields={"recipient": "self"}
            )
        if _blocked_with_merchant(user_id=user.pk, merchant_id=merchant_id):
            raise _blocked_error()
        product = _listed_product(product_id=product_id, merchant_id=merchant_id)
        lookup: dict[str, Any] = {"user_a_id": user.pk, "merchant_id": merchant_id, "user_b": None}
    else:
        assert with_user_id is not None
        if with_user_id == user.pk:
            raise ValidationFailed(_("You cannot message yourself."), code="self_message", fields={"recipient": "self"})
        if not _user_model().objects.filter(pk=with_user_id, is_active=True).exists():
            raise NotFound(_("Member not found."))
        if Block.objects.filter(
            Q(blocker_id=user.pk, blocked_id=with_user_id) | Q(blocker_id=with_user_id, blocked_id=user.pk)
        ).exists():
            raise _blocked_error()
        product = _listed_product(product_id=product_id)
        low, high = sorted((user.pk, with_user_id))
        lookup = {"user_a_id": low, "user_b_id": high, "merchant": None}

    conversation = Conversation.objects.filter(**lookup).first()
    if conversation is None:
        try:
            with transaction.atomic():
                conversation = Conversation.objects.create(product=product, **lookup)
        except IntegrityError:  # the other side started it at the same moment
            conversation = Conversation.objects.get(**lookup)
    elif product is not None and conversation.product_id != product.pk:
        Conversation.objects.filter(pk=conversation.pk).update(product=product)
        conversation.product = product
    return conversation


def _clean_body(body: str) -> str:
    # Stored as plain text (control characters dropped) and escaped by the templates.
    text = "".join(ch for ch in (body or "") if ch in "\n\t" or ch.isprintable()).strip()
    if not text:
        raise ValidationFailed(_("Write a message."), code="empty", fields={"body": "required"})
    if len(text) > MESSAGE_MAX_LENGTH:
        raise ValidationFailed(
            _("A message can have at most %(max)s characters.") % {"max": MESSAGE_MAX_LENGTH},
            code="too_long",
            fields={"body": "too_long"},
        )
    return text


def _recipient_ids(conversation: Conversation, side: str) -> list[int]:
    """Who is on the other side of `side`."""
    if side == Side.B:
        return [conversation.user_a_id]
    if conversation.merchant_id is not None:
        return list(
            MerchantMember.objects.filter(merchant_id=conversation.merchant_id).values_list("user_id", flat=True)
        )
    assert conversation.user_b_id is not None
    return [conversation.user_b_id]


def _notify_message(*, conversation: Conversation, message: Message) -> None:
    """One MESSAGE notification per recipient and conversation while it stays unread: the dedupe key
    carries the recipient side's read marker, so it changes (and a new one may be sent) on reading."""
    side = message.sender_side
    read_at = conversation.a_last_read_at if side == Side.B else conversation.b_last_read_at
    marker = int(read_at.timestamp() * 1000) if read_at else 0
    url = reverse("messaging:thread", args=[conversation.pk])
    for recipient_id in _recipient_ids(conversation, side):
        if recipient_id == message.sender_id:
            continue
        data: dict[str, Any] = {"conversation": conversation.pk}
        if side == Side.B and conversation.merchant is not None:
            data["brand"] = conversation.merchant.name
        notification_send(
            recipient_id=recipient_id,
            kind=NotificationKind.MESSAGE,
            actor_id=message.sender_id,
            target_url=url,
            data=data,
            dedupe_key=f"message:{conversation.pk}:{marker}",
        )


def message_send(*, user: Any, conversation_id: int, body: str, product_id: int | None = None) -> Message:
    """Post a message as `user` (a participant; anyone else gets NotFound)."""
    conversation = conversation_for_participant(user=user, conversation_id=conversation_id)
    side = conversation_side(conversation=conversation, user=user)
    text = _clean_body(body)
    product = _listed_product(
        product_id=product_id, merchant_id=conversation.merchant_id if conversation.merchant_id else None
    )
    if _blocked(conversation=conversation, sender_id=user.pk):
        raise _blocked_error()
    rate_limit_hit(scope="messages", key=str(user.pk), limit=int(gr_setting("MESSAGES_PER_HOUR")), window_seconds=3600)
    now = timezone.now()
    with transaction.atomic():
        message = Message.objects.create(
            conversation=conversation, sender=user, sender_side=side, body=text, product=product, created_at=now
        )
        unread_field = "b_unread" if side == Side.A else "a_unread"
        read_field = "a_last_read_at" if side == Side.A else "b_last_read_at"
        own_unread = "a_unread" if side == Side.A else "b_unread"
        # Writing in a thread means the writer has read it.
        Conversation.objects.filter(pk=conversation.pk).update(
            last_message=message,
            last_message_at=now,
            **{unread_field: F(unread_field) + 1, read_field: now, own_unread: 0},
        )
        conversation.refresh_from_db(fields=["a_last_read_at", "b_last_read_at"])
        transaction.on_commit(lambda: _notify_message(conversation=conversation, message=message))
    return message


def conversation_mark_read(*, user: Any, conversation_id: int) -> Conversation:
    conversation = conversation_for_participant(user=user, conversation_id=conversation_id)
    side = conversation_side(conversation=conversation, user=user)
    now = timezone.now()
    fields = {"a_last_read_at": now, "a_unread": 0} if side == Side.A else {"b_last_read_at": now, "b_unread": 0}
    Conversation.objects.filter(pk=conversation.pk).update(**fields)
    for name, value in fields.items():
        setattr(conversation, name, value)
    notification_ids = list(
        Notification.objects.filter(
            recipient_id=user.pk,
            kind=NotificationKind.MESSAGE,
            read_at__isnull=True,
            dedupe_key__startswith=f"message:{conversation.pk}:",
        ).values_list("pk", flat=True)[:MARK_READ_MAX_IDS]
    )
    if notification_ids:
        notifications_mark_read(user=user, ids=notification_ids)
    return conversation


def message_moderate(*, message_id: int, action: str, reason: str, moderator: Any) -> Message:
    """Hide, remove or restore a message; the sender is told why."""
    status = MODERATION_ACTIONS.get(action)
    if status is None:
        raise ValidationFailed(_("Unknown moderation action."), code="invalid_action", fields={"action": "invalid"})
    reason = (reason or "").strip()[:500]
    with transaction.atomic():
        message = Message.objects.select_for_update().filter(pk=message_id).first()
        if message is None:
            raise NotFound(_("Message not found."))
        message.status = status
        message.moderation_reason = "" if status == Message.Status.VISIBLE else reason
        message.save(update_fields=["status", "moderation_reason"])
        url = reverse("messaging:thread", args=[message.conversation_id])
        transaction.on_commit(
            lambda: notification_send(
                recipient_id=message.sender_id,
                kind=NotificationKind.MODERATION,
                actor_id=None,
                target_url=url,
                data={"object": "message", "action": action, "reason": reason},
                dedupe_key=f"moderation:message:{message.pk}:{action}:{int(timezone.now().timestamp())}",
            )
        )
    return message


def conversation_open(
    *,
    user: Any,
    with_user_id: int | None = None,
    merchant_id: int | None = None,
    product_id: int | None = None,
    body: str = "",
) -> tuple[Conversation, Message | None]:
    """Start (or reopen) a conversation and, when `body` is given, send it as the first message with
    the product card. All or nothing: a refused message leaves no new conversation behind."""
    if body.strip():
        _clean_body(body)  # refuse bad input before anything is written
    with transaction.atomic():
        conversation = conversation_start_or_get(
            user=user, with_user_id=with_user_id, merchant_id=merchant_id, product_id=product_id
        )
        message = None
        if body.strip():
            message = message_send(user=user, conversation_id=conversation.pk, body=body, product_id=product_id)
    return conversation, message
