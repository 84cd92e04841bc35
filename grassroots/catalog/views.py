"""Buyer pages: home and search, category, product. Plain GET pages; htmx swaps fragments."""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.cache import patch_vary_headers
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django_htmx.middleware import HtmxDetails

from grassroots.catalog import selectors
from grassroots.catalog.search import normalise_query
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.reviews.selectors import product_review_block

# htmx targets: the search box swaps the whole result block, "load more" appends to the grid.
RESULTS_TARGET = "results"
GRID_TARGET = "product-grid"


class HtmxHttpRequest(HttpRequest):
    htmx: HtmxDetails


def _listing(
    request: HtmxHttpRequest, *, template: str, context: dict[str, Any], category_id: int | None = None
) -> HttpResponse:
    query = normalise_query(request.GET.get("q"))
    cursor = request.GET.get("cursor") or None
    try:
        products, next_cursor = selectors.products_page(
            category_id=category_id, query=query, cursor=cursor, limit=gr_setting("API_PAGE_SIZE")
        )
    except ValidationFailed as exc:
        return HttpResponseBadRequest(exc.message)
    next_url = ""
    if next_cursor:
        params = {"q": query} if query else {}
        next_url = f"{request.path}?{urlencode({**params, 'cursor': next_cursor})}"
    context.update(products=products, query=query, next_url=next_url, is_more=bool(cursor))
    if request.htmx:
        template = "catalog/_page.html" if request.htmx.target == GRID_TARGET else "catalog/_results.html"
    response = render(request, template, context)
    # The same URL answers with a page or a fragment; caches must keep them apart.
    patch_vary_headers(response, ("HX-Request", "HX-Target"))
    return response


def home(request: HtmxHttpRequest) -> HttpResponse:
    """Newest products with category chips, or search results when ?q= is given. A signed-in member
    landing on "/" gets their home feed instead (the catalogue stays at /search/)."""
    match = request.resolver_match
    if request.user.is_authenticated and match is not None and match.url_name == "home" and not request.GET.get("q"):
        from grassroots.feeds.views import home as feed_home

        return feed_home(request)
    return _listing(request, template="catalog/home.html", context={"categories": selectors.category_tree()})


def category_detail(request: HtmxHttpRequest, slug: str) -> HttpResponse:
    try:
        node = selectors.category_node_by_slug(slug=slug)
    except NotFound:
        raise Http404 from None
    category = node.category
    return _listing(
        request,
        template="catalog/category.html",
        context={"category": category, "node": node, "ancestors": node.ancestors()},
        category_id=category.pk,
    )


def _optional_url(name: str, *args: Any) -> str:
    # Cart and reporting live in other apps that may not be installed yet.
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return ""


def product_detail(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        product = selectors.product_for_buyer(slug_or_id=slug, viewer=request.user)
    except NotFound:
        raise Http404 from None
    if slug != product.slug:
        return redirect("catalog:product", slug=product.slug)
    low, high = selectors.price_range(product)
    images = product.buyer_images  # type: ignore[attr-defined]
    skus = product.buyer_skus  # type: ignore[attr-defined]
    summary = " ".join(html.unescape(strip_tags(product.description_html)).split())
    context = {
        "product": product,
        "images": [
            {
                "full": selectors.image_url(image, thumbnail=False),
                "thumb": selectors.image_url(image, thumbnail=True),
                "width": image.width,
                "height": image.height,
            }
            for image in images
        ],
        "skus": skus,
        "default_sku_id": next((sku.pk for sku in skus if sku.stock > 0), None),
        "og_description": Truncator(summary).chars(200),
        "price_low": low,
        "price_high": high,
        "stages": selectors.passed_stages(product),
        "is_preview": not selectors.product_is_public(product),
        "report_url": _optional_url("curation:report_product", product.pk),
        "og_image": request.build_absolute_uri(selectors.image_url(images[0], thumbnail=False)) if images else "",
        "canonical_url": request.build_absolute_uri(reverse("catalog:product", kwargs={"slug": product.slug})),
        "review_block": product_review_block(product_id=product.pk),
    }
    response = render(request, "catalog/product.html", context)
    if context["is_preview"]:
        response["X-Robots-Tag"] = "noindex"
        response["Cache-Control"] = "private, no-store"
    return response
