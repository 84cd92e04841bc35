"""Reads for direct messages. Only participants ever see a conversation; anyone else gets NotFound,
so a conversation id leaks nothing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Case, F, Prefetch, Q, QuerySet, Sum, When
from django.utils.translation import gettext as _

from grassroots.catalog.models import ProductImage
from grassroots.core.errors import NotFound
from grassroots.core.pagination import check_time_cursor, paginate
from grassroots.merchants.models import MerchantMember
from grassroots.messaging.models import Conversation, Message, Side


def _my_merchants(user_id: int) -> QuerySet[MerchantMember, Any]:
    return MerchantMember.objects.filter(user_id=user_id).values("merchant_id")


def _participant_q(user_id: int) -> Q:
    return Q(user_a_id=user_id) | Q(user_b_id=user_id) | Q(merchant_id__in=_my_merchants(user_id))


def _card_images() -> Prefetch:
    images = ProductImage.objects.filter(is_active=True, revision__isnull=True).order_by("position", "id")
    return Prefetch("product__images", queryset=images[:1], to_attr="first_images")


def conversation_for_participant(*, user: Any, conversation_id: int) -> Conversation:
    """The conversation when `user` takes part in it (directly or as a member of the brand)."""
    if user is None or not getattr(user, "is_authenticated", False):
        raise NotFound(_("Conversation not found."))
    conversation = (
        Conversation.objects.select_related("user_a", "user_b", "merchant", "product", "product__merchant")
        .filter(_participant_q(user.pk), pk=conversation_id)
        .first()
    )
    if conversation is None:
        raise NotFound(_("Conversation not found."))
    return conversation


def conversation_side(*, conversation: Conversation, user: Any) -> str:
    """Which side `user` is on (a member of the brand is on side B)."""
    return Side.A if conversation.user_a_id == user.pk else Side.B


@dataclass
class ConversationView:
    """A conversation as one participant sees it."""

    conversation: Conversation
    side: str
    other_name: str
    other_handle: str | None
    is_brand: bool
    unread: int
    last_message: Message | None


def conversation_view(*, conversation: Conversation, user: Any) -> ConversationView:
    side = conversation_side(conversation=conversation, user=user)
    if side == Side.B:
        other = conversation.user_a
        name, handle, is_brand = str(other), other.handle, False
    elif conversation.merchant is not None:
        name, handle, is_brand = conversation.merchant.name, None, True
    else:
        assert conversation.user_b is not None
        name, handle, is_brand = str(conversation.user_b), conversation.user_b.handle, False
    return ConversationView(
        conversation=conversation,
        side=side,
        other_name=name,
        other_handle=handle,
        is_brand=is_brand,
        unread=conversation.a_unread if side == Side.A else conversation.b_unread,
        last_message=conversation.last_message,
    )


def conversations_page(
    *, user: Any, cursor: str | None = None, limit: int = 20
) -> tuple[list[ConversationView], str | None]:
    """The inbox: conversations with at least one message, most recent first. Two queries at most
    (the conversations with everything joined, and the product cards' first images)."""
    check_time_cursor(cursor)
    queryset = (
        Conversation.objects.filter(_participant_q(user.pk), last_message__isnull=False)
        .select_related("user_a", "user_b", "merchant", "product", "last_message__sender", "last_message__product")
        .prefetch_related(_card_images())
    )
    items, next_cursor = paginate(queryset, cursor=cursor, limit=limit, order=("-last_message_at", "-id"))
    return [conversation_view(conversation=c, user=user) for c in items], next_cursor


def messages_page(
    *, conversation: Conversation, cursor: str | None = None, limit: int = 30
) -> tuple[list[Message], str | None]:
    """A page of a thread, newest first (callers reverse it to show oldest first)."""
    check_time_cursor(cursor)
    queryset = (
        Message.objects.filter(conversation=conversation)
        .select_related("sender", "product")
        .prefetch_related(_card_images())
    )
    return paginate(queryset, cursor=cursor, limit=limit, order=("-created_at", "-id"))


def messaging_unread_count(*, user_id: int | None) -> int:
    """Messages waiting for this member across all their conversations (one indexed query)."""
    if user_id is None:
        return 0
    mine = Q(user_a_id=user_id, a_unread__gt=0) | Q(user_b_id=user_id, b_unread__gt=0)
    mine |= Q(merchant_id__in=_my_merchants(user_id), b_unread__gt=0) & ~Q(user_a_id=user_id)
    total = Conversation.objects.filter(mine).aggregate(
        n=Sum(Case(When(user_a_id=user_id, then=F("a_unread")), default=F("b_unread")))
    )["n"]
    return int(total or 0)
