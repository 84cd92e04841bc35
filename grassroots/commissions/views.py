"""Earnings pages: the shopkeeper's dashboard, withdrawing, the withdrawal history, and the curators'
withdrawal review. Plain forms, POST then redirect; no JavaScript needed."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.commissions import withdrawals as w
from grassroots.commissions.dashboard import (
    DAY_CHOICES,
    DEFAULT_DAYS,
    clean_days,
    dashboard_chart_svg,
    shopkeeper_dashboard,
)
from grassroots.commissions.models import Withdrawal
from grassroots.core.errors import NotFound, ServiceError, ValidationFailed
from grassroots.core.money import CURRENCY_EXPONENT, format_minor
from grassroots.core.page_guards import curator_required
from grassroots.core.pagination import paginate
from grassroots.shops.selectors import shop_for_user

PAGE_SIZE = 20
REVIEW_PAGE_SIZE = 50
TOKEN_MAX_LENGTH = 64
REVIEW_STATUSES = ("requested", "approved", "")


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    if shop_for_user(user=request.user) is None:
        return render(request, "commissions/no_shop.html", {"balance": w.withdrawal_balance(user=request.user)})
    try:
        days = clean_days(request.GET.get("days"))
    except ValidationFailed:
        days = DEFAULT_DAYS
    data = shopkeeper_dashboard(user=request.user, days=days)
    return render(
        request,
        "commissions/dashboard.html",
        {
            "data": data,
            "chart": dashboard_chart_svg(series=data.series, currency=data.currency),
            "day_choices": DAY_CHOICES,
            "conversion_pct": None if data.conversion is None else round(data.conversion * 100, 1),
            "withdrawable": max(data.balances.available - max(data.balances.receivable, 0), 0),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest) -> HttpResponse:
    balance = w.withdrawal_balance(user=request.user)
    # One token per rendering of the form: a double-submitted form makes one withdrawal.
    token = request.POST.get("form_token", "").strip()[:TOKEN_MAX_LENGTH] or secrets.token_urlsafe(16)
    context: dict[str, Any] = {
        "balance": balance,
        "in_flight": w.withdrawal_in_flight(user=request.user),
        "amount": request.POST.get("amount", ""),
        "form_token": token,
        "error": None,
        "decimals": CURRENCY_EXPONENT.get(balance.currency, 2),
        "minimum_text": format_minor(balance.minimum, balance.currency),
    }
    status = 200
    if request.method == "POST":
        try:
            amount = w.amount_from_major(context["amount"], currency=balance.currency)
            withdrawal = w.withdrawal_request(user=request.user, amount=amount, idempotency_key=f"form:{token}")
        except ServiceError as error:
            context["error"] = error
            status = error.status
        else:
            messages.success(
                request,
                _("You asked to withdraw %(amount)s. A curator will review it.")
                % {"amount": format_minor(withdrawal.amount, withdrawal.currency)},
            )
            return redirect("commissions:withdrawals")
    return render(request, "commissions/withdraw.html", context, status=status)


@login_required
@require_GET
def withdrawal_list(request: HttpRequest) -> HttpResponse:
    try:
        items, next_cursor = paginate(
            w.withdrawals_for_user(user=request.user), cursor=request.GET.get("cursor"), limit=PAGE_SIZE
        )
    except ValidationFailed:
        return redirect("commissions:withdrawals")
    return render(
        request,
        "commissions/withdrawals.html",
        {
            "withdrawals": items,
            "next_cursor": next_cursor,
            "balance": w.withdrawal_balance(user=request.user),
        },
    )


@curator_required
@require_GET
def review(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "requested")
    if status not in REVIEW_STATUSES:
        status = "requested"
    try:
        items, next_cursor = paginate(
            w.withdrawals_for_review(status=status or None),
            cursor=request.GET.get("cursor"),
            limit=REVIEW_PAGE_SIZE,
            order=("id",),
        )
    except ValidationFailed:
        return redirect("commissions:review")
    return render(
        request,
        "commissions/review.html",
        {
            "withdrawals": items,
            "next_cursor": next_cursor,
            "status": status,
            "statuses": [
                ("requested", _("To decide")),
                ("approved", _("Approved, payout not finished")),
                ("", _("All")),
            ],
        },
    )


def _review_target(request: HttpRequest, withdrawal_id: int) -> Withdrawal:
    try:
        return w.withdrawal_for_viewer(user=request.user, withdrawal_id=withdrawal_id)
    except NotFound:
        raise Http404 from None


@curator_required
@require_POST
def review_approve(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    withdrawal = _review_target(request, withdrawal_id)
    amount = format_minor(withdrawal.amount, withdrawal.currency)
    try:
        withdrawal = w.withdrawal_approve(actor=request.user, withdrawal=withdrawal)
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if withdrawal.status == Withdrawal.Status.PAID:
            messages.success(request, _("Paid out %(amount)s.") % {"amount": amount})
        else:
            messages.warning(
                request,
                _("The payout of %(amount)s failed (%(reason)s); the money is back in the shopkeeper's balance.")
                % {"amount": amount, "reason": withdrawal.failure_reason},
            )
    return redirect("commissions:review")


@curator_required
@require_POST
def review_reject(request: HttpRequest, withdrawal_id: int) -> HttpResponse:
    withdrawal = _review_target(request, withdrawal_id)
    try:
        w.withdrawal_reject(actor=request.user, withdrawal=withdrawal, reason=request.POST.get("reason", ""))
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(
            request,
            _("Declined the withdrawal of %(amount)s; the money is back in the shopkeeper's balance.")
            % {"amount": format_minor(withdrawal.amount, withdrawal.currency)},
        )
    return redirect("commissions:review")
