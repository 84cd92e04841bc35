"""Payment pages: start paying for a payable, and the simulated card form. No JavaScript needed."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from grassroots.core.errors import NotFound, ServiceError
from grassroots.core.forms import add_service_error
from grassroots.payments import selectors, services
from grassroots.payments.forms import CardForm
from grassroots.payments.gateways import CARD_DECLINED, CARD_PROCESSING_ERROR, CARD_SUCCEEDS
from grassroots.payments.models import PaymentIntent
from grassroots.payments.registry import get_payable

TEST_CARDS = [
    (CARD_SUCCEEDS, "succeeds"),
    (CARD_DECLINED, "declined"),
    (CARD_PROCESSING_ERROR, "processing_error"),
]


@login_required
@require_POST
def start(request: HttpRequest, kind: str, payable_id: int) -> HttpResponse:
    try:
        intent, _created = services.payment_intent_create(payer=request.user, kind=kind, payable_id=payable_id)
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        return render(request, "payments/problem.html", {"error": error}, status=error.status)
    return redirect("payments:pay", intent_id=intent.pk)


def _return_url(intent: PaymentIntent) -> str:
    try:
        return get_payable(intent.payable_kind).describe(intent.payable_id).return_url
    except NotFound:
        return ""


@login_required
@require_http_methods(["GET", "POST"])
def pay(request: HttpRequest, intent_id: int) -> HttpResponse:
    try:
        intent = selectors.payment_intent_get(user=request.user, intent_id=intent_id)
    except NotFound:
        raise Http404 from None
    form = CardForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.payment_intent_confirm(
                    payer=request.user, intent_id=intent.pk, card_number=form.cleaned_data["card_number"]
                )
            except ServiceError as error:
                add_service_error(form, error)
                status = error.status
            else:
                return redirect("payments:pay", intent_id=intent.pk)
        else:
            status = 422
        intent.refresh_from_db()
    context = {
        "intent": intent,
        "form": form,
        "can_pay": services.INTENT_MACHINE.can(intent.status, "confirm"),
        "attempts": list(selectors.payment_attempts(intent=intent)[:5]),
        "test_cards": TEST_CARDS,
        "return_url": _return_url(intent),
    }
    return render(request, "payments/pay.html", context, status=status)
