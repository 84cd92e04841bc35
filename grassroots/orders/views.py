"""Pages: cart (guests too), buy now, checkout, orders, address book, the merchant's shipping queue.

Plain forms, POST then redirect; they work without JavaScript. Views parse and call services.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, ServiceError
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.core.pagination import paginate
from grassroots.orders import selectors, services
from grassroots.orders.forms import (
    AddressForm,
    AddToCartForm,
    QuantityForm,
    RejectReturnForm,
    ReturnRequestForm,
    ShipForm,
    ShippingRuleForm,
    add_service_error,
)
from grassroots.orders.models import Cart, Order, ReturnRequest

PAGE_SIZE = 20


def _cart(request: HttpRequest, *, create: bool) -> Cart | None:
    """The signed-in user's cart, or the guest session's (a session is started for it)."""
    if request.user.is_authenticated:
        return services.cart_get_or_create(user=request.user) if create else selectors.cart_find(user=request.user)
    if not request.session.session_key:
        if not create:
            return None
        request.session.save()
    key = request.session.session_key
    return services.cart_get_or_create(session_key=key) if create else selectors.cart_find(session_key=key)


def _safe(request: HttpRequest, target: str) -> bool:
    return bool(target) and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


def _next_url(request: HttpRequest, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    return target if _safe(request, target) else default


def _back(request: HttpRequest) -> str:
    """Where a failed form post returns to: `next`, else the page it came from, else the cart."""
    referer = request.headers.get("Referer", "")
    return _next_url(request, referer if _safe(request, referer) else reverse("orders:cart"))


def _sku_form(request: HttpRequest) -> AddToCartForm:
    """sku_id and quantity; the product page's variant radio is named `sku`, so take that too."""
    return AddToCartForm(
        {
            "sku_id": request.POST.get("sku_id") or request.POST.get("sku", ""),
            "quantity": request.POST.get("quantity", ""),
        }
    )


def _failed(request: HttpRequest, error: ServiceError, to: str) -> HttpResponse:
    messages.error(request, error.message)
    return redirect(to)


def _form_error(request: HttpRequest, form: Any) -> str:
    errors = [str(e) for field_errors in form.errors.values() for e in field_errors]
    return "; ".join(errors) or _("Please check the form.")


# --- cart ---------------------------------------------------------------------------------------


def _cart_groups(items: list[Any]) -> list[dict[str, Any]]:
    groups: dict[int, dict[str, Any]] = {}
    for item in items:
        product = item.sku.product
        group = groups.setdefault(
            product.merchant_id, {"merchant": product.merchant, "items": [], "total": 0, "currency": item.sku.currency}
        )
        item.line_total = item.sku.price_amount * item.quantity
        item.available = item.sku.is_active and product.is_listed and item.sku.stock >= item.quantity
        group["items"].append(item)
        group["total"] += item.line_total
    return list(groups.values())


@require_GET
def cart(request: HttpRequest) -> HttpResponse:
    items = selectors.cart_items(cart=_cart(request, create=False))
    groups = _cart_groups(items)
    return render(
        request,
        "orders/cart.html",
        {
            "groups": groups,
            "total": sum(g["total"] for g in groups),
            "currency": groups[0]["currency"] if groups else "CNY",
            "max_quantity": services.MAX_QUANTITY,
        },
    )


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    """The product page posts sku_id and quantity here; guests get a session cart."""
    back = _back(request)
    form = _sku_form(request)
    if not form.is_valid():
        messages.error(request, _form_error(request, form))
        return redirect(back)
    try:
        services.cart_add(
            cart=_cart(request, create=True),  # type: ignore[arg-type]
            sku_id=form.cleaned_data["sku_id"],
            quantity=form.cleaned_data["quantity"],
        )
    except ServiceError as error:
        return _failed(request, error, back)
    messages.success(request, _("Added to your cart."))
    return redirect(_next_url(request, reverse("orders:cart")))


@require_POST
def cart_update(request: HttpRequest, item_id: int) -> HttpResponse:
    form = QuantityForm(request.POST)
    cart_obj = _cart(request, create=False)
    if cart_obj is None:
        raise Http404
    if not form.is_valid():
        messages.error(request, _form_error(request, form))
        return redirect("orders:cart")
    try:
        services.cart_update(cart=cart_obj, item_id=item_id, quantity=form.cleaned_data["quantity"])
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        return _failed(request, error, reverse("orders:cart"))
    return redirect("orders:cart")


@require_POST
def cart_remove(request: HttpRequest, item_id: int) -> HttpResponse:
    cart_obj = _cart(request, create=False)
    if cart_obj is None:
        raise Http404
    try:
        services.cart_remove(cart=cart_obj, item_id=item_id)
    except NotFound:
        raise Http404 from None
    return redirect("orders:cart")


# --- buy now and checkout ------------------------------------------------------------------------


@require_POST
def buy_now(request: HttpRequest) -> HttpResponse:
    """Skip the cart: straight to the checkout page for one SKU."""
    form = _sku_form(request)
    back = _back(request)
    if not form.is_valid():
        messages.error(request, _form_error(request, form))
        return redirect(back)
    sku_id, quantity = form.cleaned_data["sku_id"], form.cleaned_data["quantity"]
    try:
        services.checkout_plan(items=[(sku_id, quantity)])
    except ServiceError as error:
        return _failed(request, error, back)
    target = reverse("orders:checkout") + "?" + urlencode({"sku": sku_id, "qty": quantity})
    if not request.user.is_authenticated:
        return redirect_to_login(target)
    return redirect(target)


def _direct_items(data: Any) -> list[tuple[str, str]] | None:
    """Buy-now items from ?sku=&qty= (or the same hidden fields when placing)."""
    if "sku" not in data:
        return None
    return [(data.get("sku", ""), data.get("qty", ""))]


@login_required
@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    source = request.POST if request.method == "POST" else request.GET
    direct = _direct_items(source)
    if request.method == "POST" and not request.POST.get("address_id"):
        messages.error(request, _("Choose a delivery address."))
        status = 422
    elif request.method == "POST":
        try:
            placed = services.checkout_place(
                buyer=request.user,
                address_id=request.POST.get("address_id", ""),  # type: ignore[arg-type]
                items=direct,
                from_cart=direct is None,
                coupon_code=request.POST.get("coupon_code") or None,
                visitor_key=request.COOKIES.get("gr_vid"),
            )
        except ServiceError as error:
            messages.error(request, error.message)
            status = error.status
        else:
            return redirect("orders:checkout_detail", checkout_id=placed.pk)
    else:
        status = 200
    plan = None
    problem = None
    try:
        if direct is None:
            items = selectors.cart_items(cart=selectors.cart_find(user=request.user))
            plan = services.checkout_plan(items=[(i.sku_id, i.quantity) for i in items])
        else:
            plan = services.checkout_plan(items=direct)
    except ServiceError as error:
        problem = error
        status = status if status != 200 else error.status
    context = {
        "plan": plan,
        "problem": problem,
        "direct": direct[0] if direct else None,
        "addresses": list(selectors.addresses_for(owner=request.user)),
        "address_form": AddressForm(),
        "here": request.get_full_path(),
    }
    return render(request, "orders/checkout.html", context, status=status)


@login_required
@require_GET
def checkout_detail(request: HttpRequest, checkout_id: int) -> HttpResponse:
    try:
        placed = selectors.checkout_for_buyer(buyer=request.user, checkout_id=checkout_id)
    except NotFound:
        raise Http404 from None
    if services.checkout_expire(checkout_id=placed.pk):
        # Its window passed before the sweeper ran: show it as it really is.
        placed = selectors.checkout_for_buyer(buyer=request.user, checkout_id=checkout_id)
    return render(
        request,
        "orders/checkout_detail.html",
        {"checkout": placed, "pay_url": selectors.pay_start_url(checkout_id=placed.pk)},
    )


@login_required
@require_POST
def checkout_cancel(request: HttpRequest, checkout_id: int) -> HttpResponse:
    try:
        services.checkout_cancel(buyer=request.user, checkout_id=checkout_id)
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        return _failed(request, error, reverse("orders:checkout_detail", args=[checkout_id]))
    messages.success(request, _("Your order was cancelled."))
    return redirect(_next_url(request, reverse("orders:checkout_detail", args=[checkout_id])))


# --- orders -------------------------------------------------------------------------------------

STATUS_TABS = [("", gettext_lazy("All"))] + [(value, label) for value, label in Order.Status.choices]


@login_required
@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status") or None
    try:
        orders, next_cursor = paginate(
            selectors.orders_for_buyer(buyer=request.user, status=status),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except ServiceError as error:
        return _failed(request, error, reverse("orders:list"))
    return render(
        request,
        "orders/order_list.html",
        {"orders": orders, "next_cursor": next_cursor, "status": status or "", "tabs": STATUS_TABS},
    )


@login_required
@require_GET
def order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        order = selectors.order_for_buyer(buyer=request.user, order_id=order_id)
    except NotFound:
        raise Http404 from None
    if order.status == Order.Status.PENDING_PAYMENT and services.checkout_expire(checkout_id=order.checkout_id):
        order = selectors.order_for_buyer(buyer=request.user, order_id=order_id)
    return render(
        request,
        "orders/order_detail.html",
        {
            "order": order,
            "aftersale": selectors.aftersale_options(order=order),
            "returns": selectors.order_returns(order=order),
            "form_token": secrets.token_urlsafe(16),
        },
    )


@login_required
@require_POST
def order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    """Cancelling an unpaid order cancels its whole checkout (it is paid as one)."""
    try:
        order = selectors.order_for_buyer(buyer=request.user, order_id=order_id)
        services.checkout_cancel(buyer=request.user, checkout_id=order.checkout_id)
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        return _failed(request, error, reverse("orders:detail", args=[order_id]))
    messages.success(request, _("Your order was cancelled."))
    return redirect("orders:detail", order_id=order_id)


@login_required
@require_POST
def order_confirm_receipt(request: HttpRequest, order_id: int) -> HttpResponse:
    try:
        order = selectors.order_for_buyer(buyer=request.user, order_id=order_id)
        services.order_confirm_receipt(buyer=request.user, order=order)
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        return _failed(request, error, reverse("orders:detail", args=[order_id]))
    messages.success(request, _("Thanks! Receipt confirmed."))
    return redirect("orders:detail", order_id=order_id)


# --- address book -------------------------------------------------------------------------------


@login_required
@require_GET
def address_list(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "orders/addresses.html",
        {"addresses": selectors.addresses_for(owner=request.user), "form": AddressForm()},
    )


@login_required
@require_http_methods(["GET", "POST"])
def address_new(request: HttpRequest) -> HttpResponse:
    form = AddressForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                address = services.address_create(
                    owner=request.user, data=form.address_input(), is_default=form.cleaned_data["is_default"]
                )
            except ServiceError as error:
                add_service_error(form, error)
                status = error.status
            else:
                messages.success(request, _("Address saved."))
                target = _next_url(request, reverse("orders:addresses"))
                separator = "&" if "?" in target else "?"
                return redirect(f"{target}{separator}address={address.pk}")
        else:
            status = 422
    return render(
        request,
        "orders/address_form.html",
        {"form": form, "next": _next_url(request, ""), "address": None},
        status=status,
    )


@login_required
@require_http_methods(["GET", "POST"])
def address_edit(request: HttpRequest, address_id: int) -> HttpResponse:
    try:
        address = services.owned_address(owner=request.user, address_id=address_id)
    except NotFound:
        raise Http404 from None
    initial = {**address.snapshot(), "is_default": address.is_default}
    form = AddressForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.address_update(
                    owner=request.user,
                    address_id=address.pk,
                    data=form.address_input(),
                    is_default=form.cleaned_data["is_default"] or None,
                )
            except ServiceError as error:
                add_service_error(form, error)
                status = error.status
            else:
                messages.success(request, _("Address saved."))
                return redirect("orders:addresses")
        else:
            status = 422
    return render(request, "orders/address_form.html", {"form": form, "next": "", "address": address}, status=status)


@login_required
@require_POST
def address_delete(request: HttpRequest, address_id: int) -> HttpResponse:
    try:
        services.address_delete(owner=request.user, address_id=address_id)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("Address deleted."))
    return redirect("orders:addresses")


@login_required
@require_POST
def address_default(request: HttpRequest, address_id: int) -> HttpResponse:
    try:
        services.address_update(owner=request.user, address_id=address_id, is_default=True)
    except NotFound:
        raise Http404 from None
    return redirect(_next_url(request, reverse("orders:addresses")))


# --- merchant console ---------------------------------------------------------------------------

CONSOLE_TABS = [
    ("paid", gettext_lazy("To ship")),
    ("shipped", gettext_lazy("Shipped")),
    ("pending_payment", gettext_lazy("Awaiting payment")),
    ("", gettext_lazy("All")),
]


@login_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    merchant = selectors.merchant_for_console(user=request.user)
    if merchant is None:
        raise Http404
    status = request.GET.get("status", "paid")
    currency = _currency()
    rule = selectors.shipping_rule_for(merchant=merchant, currency=currency)
    try:
        orders, next_cursor = paginate(
            selectors.merchant_orders(merchant=merchant, status=status or None),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except ServiceError as error:
        return _failed(request, error, reverse("orders:console"))
    return render(
        request,
        "orders/console.html",
        {
            "merchant": merchant,
            "orders": orders,
            "next_cursor": next_cursor,
            "status": status,
            "tabs": CONSOLE_TABS,
            "shipping_rule": rule,
            "shipping_initial": {
                "flat_fee": _major(rule.flat_fee if rule else 0, currency),
                "free_over": _major(rule.free_over, currency) if rule and rule.free_over else "",
            },
            "currency": currency,
        },
    )


def _major(amount: int, currency: str) -> str:
    """Minor units as a plain decimal for a number input, e.g. 800 CNY -> "8.00"."""
    exponent = CURRENCY_EXPONENT.get(currency, 2)
    return f"{Decimal(amount).scaleb(-exponent):.{exponent}f}"


def _currency() -> str:
    return str(gr_setting("CURRENCY"))


@login_required
@require_POST
def console_shipping(request: HttpRequest) -> HttpResponse:
    merchant = selectors.merchant_for_console(user=request.user)
    if merchant is None:
        raise Http404
    form = ShippingRuleForm(request.POST)
    back = reverse("orders:console")
    if not form.is_valid():
        messages.error(request, _form_error(request, form))
        return redirect(back)
    currency = _currency()
    try:
        services.shipping_rule_set(
            actor=request.user,
            merchant_id=merchant.pk,
            currency=currency,
            flat_fee=form.minor("flat_fee", currency) or 0,
            free_over=form.minor("free_over", currency),
        )
    except ServiceError as error:
        return _failed(request, error, back)
    messages.success(request, _("Shipping fee saved."))
    return redirect(back)


@login_required
@require_POST
def console_ship(request: HttpRequest, order_id: int) -> HttpResponse:
    back = reverse("orders:console")
    try:
        order = selectors.merchant_order_for_member(user=request.user, order_id=order_id)
    except NotFound:
        raise Http404 from None
    form = ShipForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(request, form))
        return redirect(back)
    try:
        services.order_ship(
            actor=request.user,
            order=order,
            carrier=form.cleaned_data["carrier"],
            tracking_number=form.cleaned_data["tracking_number"],
        )
    except ServiceError as error:
        return _failed(request, error, back)
    messages.success(request, _("Order %(id)s marked as shipped.") % {"id": order.pk})
    return redirect(back)


# --- after-sale ---------------------------------------------------------------------------------

RETURN_TABS = [
    ("requested", gettext_lazy("To decide")),
    ("approved", gettext_lazy("Approved")),
    ("shipped_back", gettext_lazy("On the way back")),
    ("refunded", gettext_lazy("Refunded")),
    ("rejected", gettext_lazy("Rejected")),
    ("", gettext_lazy("All")),
]


@login_required
@require_POST
def return_create(request: HttpRequest, order_id: int) -> HttpResponse:
    """One line's form on the order page: a return (after delivery) or a refund (before shipping)."""
    back = reverse("orders:detail", args=[order_id]) + "#after-sale"
    form = ReturnRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(request, form))
        return redirect(back)
    data = form.cleaned_data
    try:
        created = services.return_request_create(
            buyer=request.user,
            order_id=order_id,
            kind=data["kind"],
            lines=[(data["line_id"], data["quantity"])],
            reason=data["reason"],
            form_token=data["form_token"],
        )
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        return _failed(request, error, back)
    if created.status == ReturnRequest.Status.REFUNDED:
        messages.success(request, _("Refunded. The money is on its way back to you."))
    else:
        messages.success(request, _("Request sent. The merchant will answer it."))
    return redirect("orders:return_detail", return_id=created.pk)


@login_required
@require_GET
def return_list(request: HttpRequest) -> HttpResponse:
    try:
        items, next_cursor = paginate(
            selectors.returns_for_buyer(buyer=request.user),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except ServiceError as error:
        return _failed(request, error, reverse("orders:returns"))
    return render(request, "orders/return_list.html", {"returns": items, "next_cursor": next_cursor})


@login_required
@require_GET
def return_detail(request: HttpRequest, return_id: int) -> HttpResponse:
    try:
        found = selectors.return_for_buyer(buyer=request.user, return_id=return_id)
    except NotFound:
        raise Http404 from None
    return render(request, "orders/return_detail.html", {"ret": found})


@login_required
@require_POST
def return_ship_back(request: HttpRequest, return_id: int) -> HttpResponse:
    back = reverse("orders:return_detail", args=[return_id])
    form = ShipForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(request, form))
        return redirect(back)
    try:
        services.return_ship_back(
            buyer=request.user,
            return_id=return_id,
            carrier=form.cleaned_data["carrier"],
            tracking_number=form.cleaned_data["tracking_number"],
        )
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        return _failed(request, error, back)
    messages.success(request, _("Thanks. The merchant refunds you when the parcel arrives."))
    return redirect(back)


@login_required
@require_POST
def return_cancel(request: HttpRequest, return_id: int) -> HttpResponse:
    back = reverse("orders:return_detail", args=[return_id])
    try:
        services.return_cancel(buyer=request.user, return_id=return_id)
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        return _failed(request, error, back)
    messages.success(request, _("Request withdrawn."))
    return redirect(back)


@login_required
@require_GET
def console_returns(request: HttpRequest) -> HttpResponse:
    merchant = selectors.merchant_for_console(user=request.user)
    if merchant is None:
        raise Http404
    status = request.GET.get("status", "requested")
    try:
        items, next_cursor = paginate(
            selectors.merchant_returns(merchant=merchant, status=status or None),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except ServiceError as error:
        return _failed(request, error, reverse("orders:console_returns"))
    return render(
        request,
        "orders/console_returns.html",
        {"merchant": merchant, "returns": items, "next_cursor": next_cursor, "status": status, "tabs": RETURN_TABS},
    )


def _console_return_action(request: HttpRequest, return_id: int, act: Any, done: str) -> HttpResponse:
    back = _next_url(request, reverse("orders:console_returns"))
    try:
        selectors.return_for_member(user=request.user, return_id=return_id)
        act()
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        return _failed(request, error, back)
    messages.success(request, done % {"id": return_id})
    return redirect(back)


@login_required
@require_POST
def console_return_approve(request: HttpRequest, return_id: int) -> HttpResponse:
    return _console_return_action(
        request,
        return_id,
        lambda: services.return_approve(actor=request.user, return_id=return_id),
        _("Return %(id)s approved."),
    )


@login_required
@require_POST
def console_return_reject(request: HttpRequest, return_id: int) -> HttpResponse:
    form = RejectReturnForm(request.POST)
    if not form.is_valid():
        messages.error(request, _form_error(request, form))
        return redirect(_next_url(request, reverse("orders:console_returns")))
    return _console_return_action(
        request,
        return_id,
        lambda: services.return_reject(actor=request.user, return_id=return_id, reason=form.cleaned_data["reason"]),
        _("Return %(id)s rejected."),
    )


@login_required
@require_POST
def console_return_receive(request: HttpRequest, return_id: int) -> HttpResponse:
    return _console_return_action(
        request,
        return_id,
        lambda: services.return_receive(actor=request.user, return_id=return_id),
        _("Return %(id)s received and refunded."),
    )
