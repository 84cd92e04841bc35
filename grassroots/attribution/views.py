"""Short links (/s/<code>/), their QR codes, and the shopkeeper's share page."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.views.decorators.http import require_GET, require_safe

from grassroots.accounts.services import client_ip
from grassroots.attribution import selectors, services
from grassroots.attribution.conf import attribution_setting
from grassroots.attribution.models import ShareLink
from grassroots.attribution.qr import CONTENT_TYPES, DEFAULT_SCALE, MAX_SCALE, QrFormat, qr_image
from grassroots.core.errors import NotFound, RateLimited
from grassroots.core.ratelimit import rate_limit_hit
from grassroots.shops.models import Shop
from grassroots.shops.selectors import shop_for_user, shop_items

VISITOR_COOKIE = "gr_vid"
VISITOR_COOKIE_MAX_AGE = int(timedelta(days=365).total_seconds())
QR_MAX_AGE = int(timedelta(days=1).total_seconds())


def set_visitor_cookie(request: HttpRequest, response: HttpResponse, key: str) -> None:
    """A first-party device id: random, HttpOnly, SameSite=Lax (sent on the top-level navigation
    that follows a shared link), renewed for a year on every click."""
    response.set_cookie(
        VISITOR_COOKIE,
        key,
        max_age=VISITOR_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure(),
    )


def _over_click_limit(ip: str | None) -> bool:
    try:
        rate_limit_hit(
            scope="share-click",
            key=services.ip_hash(ip) or "unknown",
            limit=attribution_setting("SHARE_CLICKS_PER_IP_PER_MINUTE"),
            window_seconds=60,
        )
    except RateLimited:
        return True
    return False


@require_safe
def follow(request: HttpRequest, code: str) -> HttpResponse:
    """Log the click and redirect to the shop or product page. Bots get the same redirect, so
    link-preview fetchers read the target's Open Graph tags. HEAD is answered without logging (no
    person is behind it), and so is an address over its per-minute click limit."""
    key = services.visitor_key_clean(request.COOKIES.get(VISITOR_COOKIE)) or services.new_visitor_key()
    ip = client_ip(request)
    try:
        if request.method == "HEAD" or _over_click_limit(ip):
            link = selectors.share_link_by_code(code=code)
        else:
            link, _click = services.click_record(
                code=code,
                visitor_key=key,
                user=request.user,
                ip=ip,
                user_agent=request.headers.get("User-Agent"),
                at=timezone.now(),
            )
    except NotFound:
        raise Http404 from None
    response = HttpResponseRedirect(selectors.share_target_path(link))
    set_visitor_cookie(request, response, key)
    # Every click must reach us: no browser or proxy may replay the redirect from a cache.
    add_never_cache_headers(response)
    return response


def short_url(request: HttpRequest, link: ShareLink) -> str:
    return request.build_absolute_uri(selectors.share_link_path(link))


def qr_response(request: HttpRequest, link: ShareLink, fmt: QrFormat) -> HttpResponse:
    """`?scale=1..20` (PNG pixels per module), `?download=1` to save it as a file."""
    try:
        scale = min(max(int(request.GET.get("scale", DEFAULT_SCALE)), 1), MAX_SCALE)
    except ValueError:
        scale = DEFAULT_SCALE
    response = HttpResponse(
        qr_image(url=short_url(request, link), fmt=fmt, scale=scale), content_type=CONTENT_TYPES[fmt]
    )
    disposition = "attachment" if request.GET.get("download") else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="grassroots-{link.code}.{fmt}"'
    # A code's QR never changes; the URL includes the host it encodes.
    patch_cache_control(response, public=True, max_age=QR_MAX_AGE)
    return response


def _qr(request: HttpRequest, code: str, fmt: QrFormat) -> HttpResponse:
    try:
        link = selectors.share_link_by_code(code=code)
    except NotFound:
        raise Http404 from None
    return qr_response(request, link, fmt)


@require_safe
def qr_svg(request: HttpRequest, code: str) -> HttpResponse:
    return _qr(request, code, "svg")


@require_safe
def qr_png(request: HttpRequest, code: str) -> HttpResponse:
    return _qr(request, code, "png")


def _optional_url(name: str) -> str:
    try:
        return reverse(name)
    except NoReverseMatch:
        return ""


@login_required
@require_GET
def share(request: HttpRequest) -> HttpResponse:
    """The shopkeeper's links: the shop and each item, with URL, QR code and click count. Links
    are minted on first view (idempotent), so there is nothing to press before sharing."""
    shop = shop_for_user(user=request.user)
    context: dict[str, object] = {"shop": shop, "open_url": _optional_url("shops:open"), "rows": []}
    if shop is not None and shop.status != Shop.Status.SUSPENDED:
        items = list(shop_items(shop=shop))
        links = services.share_links_for_shop(shop=shop, product_ids=[item.product_id for item in items])
        rows = [{"label": shop.name, "kind": "shop", "link": links[None], "url": short_url(request, links[None])}]
        rows += [
            {
                "label": item.product.title,
                "kind": "product",
                "link": links[item.product_id],
                "url": short_url(request, links[item.product_id]),
            }
            for item in items
            if item.product_id in links
        ]
        context["rows"] = rows
    response = render(request, "attribution/share.html", context)
    add_never_cache_headers(response)
    return response
