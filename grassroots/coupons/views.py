"""The coupon console: a merchant's members create and stop their coupons; curators do the same
for platform coupons. Plain forms, POST then redirect; the services validate and authorise."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, ServiceError
from grassroots.core.pagination import paginate
from grassroots.coupons import selectors, services
from grassroots.coupons.forms import CouponForm
from grassroots.merchants.models import Merchant

PAGE_SIZE = 20
SCOPE_TABS = [("merchant", gettext_lazy("My shop's coupons")), ("platform", gettext_lazy("Platform coupons"))]


def _scope(request: HttpRequest) -> tuple[str, Merchant | None, list[tuple[str, Any]]]:
    """Which coupons this console shows: the user's merchant's, or (curators) the platform's."""
    merchant = selectors.merchant_for_coupons(user=request.user)
    curator = selectors.is_curator(request.user)
    allowed = [(value, label) for value, label in SCOPE_TABS if (merchant if value == "merchant" else curator)]
    if not allowed:
        raise Http404
    wanted = request.GET.get("scope") or allowed[0][0]
    if wanted not in {value for value, _label in allowed}:
        raise Http404
    return wanted, merchant if wanted == "merchant" else None, allowed


def _console_url(scope: str) -> str:
    return reverse("coupons:console") + "?" + urlencode({"scope": scope})


@login_required
@require_http_methods(["GET", "POST"])
def console(request: HttpRequest) -> HttpResponse:
    scope, merchant, tabs = _scope(request)
    currency = str(gr_setting("CURRENCY"))
    form = CouponForm(request.POST or None, initial={"total_limit": 0, "per_user_limit": 1})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                coupon = services.coupon_create(
                    actor=request.user, merchant_id=merchant.pk if merchant else None, **form.service_kwargs(currency)
                )
            except ServiceError as error:
                _add_service_error(form, error)
                status = error.status
            else:
                messages.success(request, _("Coupon %(code)s created.") % {"code": coupon.code})
                return redirect(_console_url(scope))
        else:
            status = 422
    queryset = selectors.merchant_coupons(merchant=merchant) if merchant else selectors.platform_coupons()
    try:
        coupons, next_cursor = paginate(queryset, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    except ServiceError:
        raise Http404 from None
    return render(
        request,
        "coupons/console.html",
        {
            "scope": scope,
            "merchant": merchant,
            "tabs": tabs if len(tabs) > 1 else [],
            "coupons": coupons,
            "next_cursor": next_cursor,
            "form": form,
            "currency": currency,
        },
        status=status,
    )


def _add_service_error(form: CouponForm, error: ServiceError) -> None:
    """The service's field errors next to the form's fields (percent_bps is the percent field)."""
    placed = False
    for name, reason in error.fields.items():
        field = "percent" if name == "percent_bps" else name
        if field in form.fields:
            form.add_error(field, f"{error.message} ({reason})")
            placed = True
    if not placed:
        form.add_error(None, error.message)


@login_required
@require_POST
def console_deactivate(request: HttpRequest, coupon_id: int) -> HttpResponse:
    try:
        coupon = services.coupon_deactivate(actor=request.user, coupon_id=coupon_id)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("Coupon %(code)s stopped.") % {"code": coupon.code})
    return redirect(_console_url(coupon.scope))
