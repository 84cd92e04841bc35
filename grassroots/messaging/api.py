"""Messages API: conversations (one per pair), their messages (cursor pages), send, mark read.
Only participants see a conversation; anyone else gets 404."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.http import HttpRequest
from django.urls import reverse
from django.utils.translation import gettext as _
from ninja import Field, Router, Schema

from grassroots.catalog.models import Product
from grassroots.catalog.selectors import thumbnail_url
from grassroots.core.api_schemas import error_responses
from grassroots.core.errors import NotFound
from grassroots.messaging import selectors, services
from grassroots.messaging.models import MESSAGE_MAX_LENGTH, Message
from grassroots.messaging.selectors import ConversationView

router = Router(tags=["messaging"])


ERRORS = error_responses(400, 403, 404, 422, 429)


class ProductCardOut(Schema):
    id: int
    slug: str
    title: str
    url: str
    price: int
    currency: str
    thumbnail_url: str


class MessageOut(Schema):
    id: int
    conversation_id: int
    mine: bool
    sender_handle: str | None
    sender_name: str
    status: str
    body: str
    moderation_reason: str
    product: ProductCardOut | None
    created_at: datetime


class ConversationOut(Schema):
    id: int
    with_name: str
    with_handle: str | None
    is_brand: bool
    merchant_id: int | None
    product: ProductCardOut | None
    unread: int
    last_message: MessageOut | None
    last_message_at: datetime | None
    url: str


class ConversationPage(Schema):
    items: list[ConversationOut]
    next_cursor: str | None


class MessagePage(Schema):
    items: list[MessageOut]
    next_cursor: str | None


class StartIn(Schema):
    user_handle: str | None = None
    user_id: int | None = None
    merchant_id: int | None = None
    product_id: int | None = None
    body: str = Field("", max_length=MESSAGE_MAX_LENGTH * 2)


class SendIn(Schema):
    body: str = Field(..., max_length=MESSAGE_MAX_LENGTH * 2)
    product_id: int | None = None


class StartOut(Schema):
    conversation: ConversationOut
    message: MessageOut | None


class UnreadOut(Schema):
    unread: int


def _card(product: Product | None) -> dict[str, Any] | None:
    if product is None:
        return None
    return {
        "id": product.pk,
        "slug": product.slug,
        "title": product.title,
        "url": reverse("catalog:product", args=[product.slug]),
        "price": product.min_price,
        "currency": product.currency,
        "thumbnail_url": thumbnail_url(product),
    }


def _message(message: Message, view: ConversationView) -> dict[str, Any]:
    mine = message.sender_side == view.side
    withheld = message.status == Message.Status.REMOVED or (message.status == Message.Status.HIDDEN and not mine)
    if view.is_brand and message.sender_side == "b" and not mine:
        sender_name, sender_handle = view.other_name, None
    else:
        sender_name, sender_handle = str(message.sender), message.sender.handle
    return {
        "id": message.pk,
        "conversation_id": message.conversation_id,
        "mine": mine,
        "sender_handle": sender_handle,
        "sender_name": sender_name,
        "status": message.status,
        "body": "" if withheld else message.body,
        "moderation_reason": message.moderation_reason if mine else "",
        "product": None if withheld else _card(message.product),
        "created_at": message.created_at,
    }


def _conversation(view: ConversationView) -> dict[str, Any]:
    conversation = view.conversation
    return {
        "id": conversation.pk,
        "with_name": view.other_name,
        "with_handle": view.other_handle,
        "is_brand": view.is_brand,
        "merchant_id": conversation.merchant_id,
        "product": _card(conversation.product),
        "unread": view.unread,
        "last_message": _message(view.last_message, view) if view.last_message else None,
        "last_message_at": conversation.last_message_at,
        "url": reverse("messaging:thread", args=[conversation.pk]),
    }


@router.get("/conversations", response={200: ConversationPage, **ERRORS}, summary="My conversations")
def conversations_list(request: HttpRequest, cursor: str | None = None, limit: int = 20) -> Any:
    items, next_cursor = selectors.conversations_page(user=request.user, cursor=cursor, limit=limit)
    return {"items": [_conversation(v) for v in items], "next_cursor": next_cursor}


@router.post(
    "/conversations",
    response={200: StartOut, **ERRORS},
    summary="Start (or reopen) a conversation with a member or a brand, optionally with a first message",
)
def conversations_start(request: HttpRequest, payload: StartIn) -> Any:
    with_user_id = payload.user_id
    if payload.user_handle:
        found = get_user_model().objects.filter(handle=payload.user_handle.strip().lower(), is_active=True).first()
        if found is None:
            raise NotFound(_("Member not found."))
        with_user_id = found.pk
    conversation, message = services.conversation_open(
        user=request.user,
        with_user_id=with_user_id,
        merchant_id=payload.merchant_id,
        product_id=payload.product_id,
        body=payload.body,
    )
    conversation = selectors.conversation_for_participant(user=request.user, conversation_id=conversation.pk)
    view = selectors.conversation_view(conversation=conversation, user=request.user)
    return {"conversation": _conversation(view), "message": _message(message, view) if message else None}


@router.get("/unread-count", response={200: UnreadOut, **ERRORS}, summary="Unread messages across my conversations")
def unread_count(request: HttpRequest) -> Any:
    return {"unread": selectors.messaging_unread_count(user_id=request.user.pk)}


@router.get("/conversations/{conversation_id}", response={200: ConversationOut, **ERRORS}, summary="One conversation")
def conversation_detail(request: HttpRequest, conversation_id: int) -> Any:
    conversation = selectors.conversation_for_participant(user=request.user, conversation_id=conversation_id)
    return _conversation(selectors.conversation_view(conversation=conversation, user=request.user))


@router.get(
    "/conversations/{conversation_id}/messages",
    response={200: MessagePage, **ERRORS},
    summary="Messages of a conversation, newest first",
)
def messages_list(request: HttpRequest, conversation_id: int, cursor: str | None = None, limit: int = 30) -> Any:
    conversation = selectors.conversation_for_participant(user=request.user, conversation_id=conversation_id)
    view = selectors.conversation_view(conversation=conversation, user=request.user)
    items, next_cursor = selectors.messages_page(conversation=conversation, cursor=cursor, limit=limit)
    return {"items": [_message(m, view) for m in items], "next_cursor": next_cursor}


@router.post(
    "/conversations/{conversation_id}/messages",
    response={201: MessageOut, **ERRORS},
    summary="Send a message (rate-limited; 403 when either side blocked the other)",
)
def messages_send(request: HttpRequest, conversation_id: int, payload: SendIn) -> Any:
    message = services.message_send(
        user=request.user, conversation_id=conversation_id, body=payload.body, product_id=payload.product_id
    )
    conversation = selectors.conversation_for_participant(user=request.user, conversation_id=conversation_id)
    view = selectors.conversation_view(conversation=conversation, user=request.user)
    message = Message.objects.select_related("sender", "product").get(pk=message.pk)
    return 201, _message(message, view)


@router.post("/conversations/{conversation_id}/read", response={200: ConversationOut, **ERRORS}, summary="Mark as read")
def conversation_read(request: HttpRequest, conversation_id: int) -> Any:
    conversation = services.conversation_mark_read(user=request.user, conversation_id=conversation_id)
    return _conversation(selectors.conversation_view(conversation=conversation, user=request.user))
