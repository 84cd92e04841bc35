from __future__ import annotations

from typing import Any

from grassroots.messaging.models import Conversation, Message
from grassroots.messaging.services import conversation_start_or_get, message_send


def conversation_between(user: Any, other: Any) -> Conversation:
    return conversation_start_or_get(user=user, with_user_id=other.pk)


def conversation_with_brand(user: Any, merchant: Any, product: Any = None) -> Conversation:
    return conversation_start_or_get(
        user=user, merchant_id=merchant.pk, product_id=product.pk if product is not None else None
    )


def send(user: Any, conversation: Conversation, body: str = "Hello", **kwargs: Any) -> Message:
    return message_send(user=user, conversation_id=conversation.pk, body=body, **kwargs)
