"""Message pages: the inbox, a thread with its reply form, and "Ask about this product".
Plain forms that POST and redirect; htmx appends a sent message in place."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from grassroots.catalog.models import Product
from grassroots.catalog.selectors import product_is_public
from grassroots.core.errors import NotFound, RateLimited, ServiceError, ValidationFailed
from grassroots.core.numbers import digits_int
from grassroots.merchants.models import Merchant
from grassroots.messaging import selectors, services
from grassroots.messaging.models import MESSAGE_MAX_LENGTH, Conversation

INBOX_PAGE_SIZE = 20
THREAD_PAGE_SIZE = 30


def _error_response(response: HttpResponse, error: ServiceError) -> HttpResponse:
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    return response


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    try:
        conversations, next_cursor = selectors.conversations_page(
            user=request.user, cursor=request.GET.get("cursor") or None, limit=INBOX_PAGE_SIZE
        )
    except ServiceError:
        raise Http404 from None
    return render(request, "messaging/inbox.html", {"conversations": conversations, "next_cursor": next_cursor})


def _thread_context(request: HttpRequest, conversation: Conversation, cursor: str | None) -> dict[str, Any]:
    messages_newest_first, older_cursor = selectors.messages_page(
        conversation=conversation, cursor=cursor, limit=THREAD_PAGE_SIZE
    )
    return {
        "view": selectors.conversation_view(conversation=conversation, user=request.user),
        "conversation": conversation,
        "thread": list(reversed(messages_newest_first)),
        "older_cursor": older_cursor,
        "max_length": MESSAGE_MAX_LENGTH,
        "body": "",
        "error": None,
    }


@login_required
@require_http_methods(["GET", "POST"])
def thread(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        conversation = selectors.conversation_for_participant(user=request.user, conversation_id=pk)
    except NotFound:
        raise Http404 from None
    if request.method == "POST":
        body = request.POST.get("body", "")
        try:
            message = services.message_send(user=request.user, conversation_id=pk, body=body)
        except ServiceError as error:
            if request.htmx:  # type: ignore[attr-defined]
                response = render(request, "messaging/_error.html", {"error": error})
                response["HX-Retarget"] = "#message-error"
                response["HX-Reswap"] = "innerHTML"
                return _error_response(response, error)
            context = _thread_context(request, conversation, None)
            context.update(body=body, error=error)
            return _error_response(render(request, "messaging/thread.html", context, status=error.status), error)
        if request.htmx:  # type: ignore[attr-defined]
            message.sender = request.user  # type: ignore[assignment]
            view = selectors.conversation_view(conversation=conversation, user=request.user)
            context = {"message": message, "view": view, "appended": True, "conversation": conversation}
            return render(request, "messaging/_message.html", {**context, "max_length": MESSAGE_MAX_LENGTH})
        return redirect(reverse("messaging:thread", args=[pk]) + "#composer")
    try:
        context = _thread_context(request, conversation, request.GET.get("cursor") or None)
    except ServiceError:
        raise Http404 from None
    if not request.GET.get("cursor"):
        services.conversation_mark_read(user=request.user, conversation_id=pk)
    return render(request, "messaging/thread.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def start(request: HttpRequest) -> HttpResponse:
    """Ask about a product: ?product=<id> and &merchant=<id> or &user=<handle> (the brand of the
    product when neither is given). GET shows the form; POST starts the conversation and sends."""
    params = request.POST if request.method == "POST" else request.GET
    product_id = digits_int(params.get("product"))
    merchant_id = digits_int(params.get("merchant"))
    handle = (params.get("user") or "").strip().lower()
    product = None
    if product_id is not None:
        product = Product.objects.select_related("merchant").filter(pk=product_id).first()
        if product is None or not product_is_public(product):
            raise Http404
        if merchant_id is None and not handle:
            merchant_id = product.merchant_id
    with_user = None
    merchant = None
    if handle:
        with_user = get_user_model().objects.filter(handle=handle, is_active=True).first()
        if with_user is None:
            raise Http404
    elif merchant_id is not None:
        merchant = Merchant.objects.filter(pk=merchant_id, status=Merchant.Status.VERIFIED).first()
        if merchant is None:
            raise Http404
    else:
        raise Http404
    context: dict[str, Any] = {
        "product": product,
        "merchant": merchant,
        "with_user": with_user,
        "body": params.get("body", ""),
        "error": None,
        "max_length": MESSAGE_MAX_LENGTH,
    }
    if request.method == "POST":
        if not context["body"].strip():
            error = ValidationFailed(_("Write a message."), code="empty", fields={"body": "required"})
            context["error"] = error
            return render(request, "messaging/start.html", context, status=error.status)
        try:
            conversation, _message = services.conversation_open(
                user=request.user,
                with_user_id=with_user.pk if with_user else None,
                merchant_id=merchant.pk if merchant else None,
                product_id=product.pk if product else None,
                body=context["body"],
            )
        except ServiceError as error:
            context["error"] = error
            return _error_response(render(request, "messaging/start.html", context, status=error.status), error)
        return redirect("messaging:thread", pk=conversation.pk)
    return render(request, "messaging/start.html", context)
