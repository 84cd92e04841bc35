"""Ledger pages: a merchant's statement, for its members and curators."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.ledger import selectors
from grassroots.ledger.codes import merchant_payable

STATEMENT_PAGE_SIZE = 50

KIND_LABELS = {
    "capture": _("Payment captured"),
    "allocation": _("Order paid"),
    "order_paid": _("Order paid"),
    "refund": _("Refund"),
    "refund_reversal": _("Refund"),
    "settlement": _("Settlement"),
}


def kind_label(kind: str) -> str:
    if kind.startswith("reversal:"):
        return str(_("Correction"))
    return str(KIND_LABELS.get(kind, kind.replace("_", " ").capitalize()))


@login_required
@require_GET
def merchant_statement(request: HttpRequest, merchant_id: int) -> HttpResponse:
    try:
        merchant = selectors.merchant_for_ledger_viewer(user=request.user, merchant_id=merchant_id)
    except NotFound:
        raise Http404 from None
    balances = selectors.merchant_balances(merchant_id=merchant.pk)
    currencies = sorted({b.currency for b in balances} | {gr_setting("CURRENCY")})
    currency = request.GET.get("currency", "").upper() or gr_setting("CURRENCY")
    if currency not in CURRENCY_EXPONENT:
        raise Http404
    status = 200
    try:
        statement = selectors.account_statement(
            code=merchant_payable(merchant.pk),
            currency=currency,
            cursor=request.GET.get("cursor") or None,
            limit=STATEMENT_PAGE_SIZE,
        )
    except ValidationFailed:
        # A mangled cursor: show the first page rather than an error page.
        status = 400
        statement = selectors.account_statement(
            code=merchant_payable(merchant.pk), currency=currency, cursor=None, limit=STATEMENT_PAGE_SIZE
        )
    rows = [(line, kind_label(line.kind)) for line in statement.lines]
    context = {
        "merchant": merchant,
        "statement": statement,
        "rows": rows,
        "currency": currency,
        "currencies": currencies,
        "is_first_page": not request.GET.get("cursor"),
    }
    return render(request, "ledger/merchant_statement.html", context, status=status)
