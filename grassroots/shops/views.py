"""Shop pages: become a shopkeeper, manage my shop, pick products from the pool, the public shop page,
and the merchant's commission rates. Plain forms, POST then redirect; no JavaScript needed."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.catalog.selectors import category_by_slug_or_id, category_tree, thumbnail_url
from grassroots.catalog.services import acting_merchant
from grassroots.core.errors import NotFound, PermissionDenied, ServiceError, ValidationFailed
from grassroots.core.pagination import paginate
from grassroots.shops import selectors, services
from grassroots.shops.conf import shops_setting
from grassroots.shops.models import (
    MAX_SHOP_ITEMS,
    NAME_MAX_LENGTH,
    PITCH_MAX_LENGTH,
    RATE_MAX_BPS,
    RATE_MIN_BPS,
    RECOMMENDATION_MAX_LENGTH,
)

PAGE_SIZE = 24
MERCHANT_PAGE_SIZE = 50
TRUE_VALUES = {"on", "1", "true", "yes"}


def _safe_next(request: HttpRequest, fallback: str) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return fallback


def _limits() -> dict[str, int]:
    return {
        "name_max": NAME_MAX_LENGTH,
        "pitch_max": PITCH_MAX_LENGTH,
        "recommendation_max": RECOMMENDATION_MAX_LENGTH,
        "max_items": MAX_SHOP_ITEMS,
    }


# --- becoming a shopkeeper ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def open_shop(request: HttpRequest) -> HttpResponse:
    if selectors.shop_for_user(user=request.user) is not None:
        messages.info(request, _("You already have a shop."))
        return redirect("shops:mine")
    context: dict[str, Any] = {
        "name": request.POST.get("name", ""),
        "pitch": request.POST.get("pitch", ""),
        "accepted": request.POST.get("accept_terms", "").lower() in TRUE_VALUES,
        "error": None,
        **_limits(),
    }
    status = 200
    if request.method == "POST":
        try:
            services.shop_open(
                user=request.user, name=context["name"], pitch=context["pitch"], accept_terms=context["accepted"]
            )
        except ServiceError as error:
            if error.code == "already_shopkeeper":
                messages.info(request, error.message)
                return redirect("shops:mine")
            context["error"] = error
            status = error.status
        else:
            messages.success(request, _("Your shop is open. Pick products from the pool to fill it."))
            return redirect("shops:select")
    return render(request, "shops/open.html", context, status=status)


# --- managing my shop ---------------------------------------------------------------------


@login_required
@require_GET
def mine(request: HttpRequest) -> HttpResponse:
    shop = selectors.shop_for_user(user=request.user)
    if shop is None:
        return redirect("shops:open")
    return render(
        request,
        "shops/mine.html",
        {"shop": shop, "items": list(selectors.shop_items_for_owner(shop=shop)), **_limits()},
    )


@login_required
@require_POST
def mine_edit(request: HttpRequest) -> HttpResponse:
    shop = selectors.shop_for_user(user=request.user)
    if shop is None:
        return redirect("shops:open")
    try:
        services.shop_update(
            user=request.user,
            shop=shop,
            name=request.POST.get("name", ""),
            pitch=request.POST.get("pitch", ""),
            avatar=request.FILES.get("avatar"),
        )
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your shop is saved."))
    return redirect("shops:mine")


@login_required
@require_POST
def mine_item_update(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        services.shop_item_update(
            user=request.user,
            item_id=item_id,
            recommendation=request.POST.get("recommendation", ""),
            position=request.POST.get("position") or None,
        )
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your recommendation is saved."))
    return redirect(f"{reverse('shops:mine')}#item-{item_id}")


@login_required
@require_POST
def mine_item_remove(request: HttpRequest, item_id: int) -> HttpResponse:
    try:
        services.shop_item_remove(user=request.user, item_id=item_id)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("The product is no longer in your shop."))
    return redirect("shops:mine")


# --- picking from the pool ----------------------------------------------------------------


def _percent_to_bps(value: str) -> int | None:
    """'12.5' -> 1250; None for anything that is not a percentage with at most two decimals."""
    try:
        number = Decimal(value.strip())
    except (InvalidOperation, ValueError):
        return None
    bps = number * 100
    if not number.is_finite() or bps != bps.to_integral_value() or not 0 <= bps <= 10_000:
        return None
    return int(bps)


def _category_options() -> list[tuple[str, str]]:
    options: list[tuple[str, str]] = []
    for root in category_tree():
        options.append((root.category.slug, root.category.name))
        options.extend((child.category.slug, f"— {child.category.name}") for child in root.children)
    return options


@login_required
@require_GET
def select(request: HttpRequest) -> HttpResponse:
    order = request.GET.get("order", "rate")
    if order not in selectors.POOL_ORDERS:
        order = "rate"
    category_slug = request.GET.get("category", "")
    category_id = None
    if category_slug:
        try:
            category_id = category_by_slug_or_id(value=category_slug).pk
        except NotFound:
            messages.error(request, _("Category not found."))
            category_slug = ""
    min_rate = request.GET.get("min_rate", "").strip()
    min_rate_bps = _percent_to_bps(min_rate) if min_rate else None
    if min_rate and min_rate_bps is None:
        messages.error(request, _("Enter the minimum commission as a percentage, e.g. 10."))
        min_rate = ""
    filters = {"category": category_slug, "min_rate": min_rate, "order": order}
    try:
        cards, next_cursor = selectors.pool_page(
            category_id=category_id,
            min_rate_bps=min_rate_bps,
            order=order,
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
        )
    except ValidationFailed as error:
        messages.error(request, error.message)
        cards, next_cursor = selectors.pool_page(
            category_id=category_id, min_rate_bps=min_rate_bps, order=order, limit=PAGE_SIZE
        )
    shop = selectors.shop_for_user(user=request.user)
    query = urlencode({k: v for k, v in filters.items() if v})
    return render(
        request,
        "shops/select.html",
        {
            "shop": shop,
            "cards": cards,
            "in_shop": selectors.shop_product_ids(shop=shop),
            "filters": filters,
            "categories": _category_options(),
            "orders": [("rate", _("Highest commission")), ("quality", _("Best rated")), ("new", _("Newest"))],
            "next_url": f"?{urlencode({**filters, 'cursor': next_cursor})}" if next_cursor else "",
            "this_url": f"{request.path}?{query}" if query else request.path,
            **_limits(),
        },
    )


@login_required
@require_POST
def select_add(request: HttpRequest) -> HttpResponse:
    back = _safe_next(request, reverse("shops:select"))
    try:
        services.shop_item_add(
            user=request.user,
            product_id=request.POST.get("product_id", ""),
            recommendation=request.POST.get("recommendation", ""),
        )
    except ServiceError as error:
        if error.code == "no_shop":
            messages.info(request, _("Open your shop first; it is free."))
            return redirect("shops:open")
        messages.error(request, error.message)
    else:
        messages.success(request, _("Added to your shop."))
    return redirect(back)


# --- the public shop page -----------------------------------------------------------------


@require_GET
def detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        shop = selectors.shop_by_slug(slug=slug)
    except NotFound:
        raise Http404 from None
    try:
        items, next_cursor = selectors.shop_items_page(
            shop=shop, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except ValidationFailed:
        items, next_cursor = selectors.shop_items_page(shop=shop, cursor=None, limit=PAGE_SIZE)
    canonical_url = request.build_absolute_uri(reverse("shops:detail", kwargs={"slug": shop.slug}))
    og_image = shop.avatar.url if shop.avatar else next((thumbnail_url(i.product) for i in items), "")
    return render(
        request,
        "shops/detail.html",
        {
            "shop": shop,
            "items": items,
            "next_cursor": next_cursor,
            "is_owner": shop.owner_id == getattr(request.user, "pk", None),
            "canonical_url": canonical_url,
            "og_description": shop.pitch
            or _("Goods picked by %(name)s, from products screened by Grassroots.") % {"name": shop.name},
            "og_image": request.build_absolute_uri(og_image) if og_image else "",
        },
    )


# --- merchants: commission rates ----------------------------------------------------------


@login_required
@require_GET
def merchant_commissions(request: HttpRequest) -> HttpResponse:
    try:
        merchant = acting_merchant(actor=request.user, merchant_id=None)
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    queryset = selectors.merchant_commission_products(merchant=merchant)
    try:
        products, next_cursor = paginate(
            queryset, cursor=request.GET.get("cursor") or None, limit=MERCHANT_PAGE_SIZE, order=("-id",)
        )
    except ValidationFailed:
        products, next_cursor = paginate(queryset, cursor=None, limit=MERCHANT_PAGE_SIZE, order=("-id",))
    return render(
        request,
        "shops/merchant_commissions.html",
        {
            "merchant": merchant,
            "products": products,
            "next_cursor": next_cursor,
            "notice_days": shops_setting("COMMISSION_DECREASE_NOTICE_DAYS"),
            "rate_min": RATE_MIN_BPS // 100,
            "rate_max": RATE_MAX_BPS // 100,
        },
    )


@login_required
@require_POST
def merchant_commission_set(request: HttpRequest, product_id: int) -> HttpResponse:
    raw = request.POST.get("rate_percent", "")
    bps = _percent_to_bps(raw)
    try:
        row = services.commission_rate_set(actor=request.user, product_id=product_id, rate_bps=bps)
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        if row.effective_from > timezone.now():
            messages.success(
                request,
                _("The lower rate applies to clicks from %(date)s; shopkeepers keep the current rate until then.")
                % {"date": date_format(timezone.localtime(row.effective_from), "DATETIME_FORMAT")},
            )
        else:
            messages.success(request, _("The commission rate is saved and applies now."))
    return redirect(f"{reverse('shops:merchant_commissions')}#product-{product_id}")
