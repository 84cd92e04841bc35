"""Share panels and link-preview cards for shop and product pages.

In a page's {% block head %} (replacing its own og:/twitter: tags):
    {% share_meta shop=shop url=canonical_url image=og_image description=og_description %}
    {% share_meta product=product url=canonical_url %}
In the page body:
    {% share_panel shop %}                   the shop's short link, copy field and QR code
    {% share_panel shop product=product %}   the link for one of the shop's items
    {% share_panel product=product %}        the viewer's own shop's link for this product, if
                                             they carry it (nothing for everyone else)
"""

from __future__ import annotations

import html
import json
from typing import Any

from django import template
from django.core.serializers.json import DjangoJSONEncoder
from django.urls import NoReverseMatch, reverse
from django.utils.html import strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from grassroots.attribution import selectors
from grassroots.attribution.services import share_link_for
from grassroots.catalog.models import Product, ProductImage, Sku
from grassroots.catalog.selectors import image_url
from grassroots.core.errors import ServiceError
from grassroots.core.money import CURRENCY_EXPONENT
from grassroots.shops.models import Shop
from grassroots.shops.selectors import shop_for_user

register = template.Library()

DESCRIPTION_LENGTH = 200
SITE_NAME = "Grassroots"
# The escapes of django.utils.html.json_script: no "</script>", "<!--" or "&" survives in the
# JSON, so a product title cannot end the script element or start markup.
_JSON_SCRIPT_ESCAPES = {ord(">"): "\\u003E", ord("<"): "\\u003C", ord("&"): "\\u0026"}
SCHEMA_IN_STOCK = "https://schema.org/InStock"
SCHEMA_OUT_OF_STOCK = "https://schema.org/OutOfStock"


def json_ld(data: dict[str, Any]) -> SafeString:
    """`data` as JSON safe to place between <script type="application/ld+json"> tags."""
    return mark_safe(json.dumps(data, cls=DjangoJSONEncoder, ensure_ascii=False).translate(_JSON_SCRIPT_ESCAPES))  # noqa: S308  # escaped above


def decimal_price(amount: int, currency: str) -> str:
    """Minor units as the decimal string schema.org and Open Graph expect: 12990 CNY -> "129.90"."""
    exponent = CURRENCY_EXPONENT.get(currency, 2)
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**exponent)
    return f"{sign}{whole}.{fraction:0{exponent}d}" if exponent else f"{sign}{whole}"


def _absolute(request: Any, url: str) -> str:
    if not url:
        return ""
    return request.build_absolute_uri(url) if request is not None else url


def _summary(product: Product) -> str:
    text = " ".join(html.unescape(strip_tags(product.description_html)).split())
    return Truncator(text).chars(DESCRIPTION_LENGTH)


def _images(product: Product) -> list[ProductImage]:
    images = getattr(product, "buyer_images", None)
    if images is None:
        images = list(product.images.filter(is_active=True, revision__isnull=True).order_by("position", "id")[:4])
    return list(images)


def _skus(product: Product) -> list[Sku]:
    skus = getattr(product, "buyer_skus", None)
    if skus is None:
        skus = list(product.skus.filter(is_active=True).order_by("position", "id"))
    return list(skus)


def _shop_url(shop: Shop) -> str:
    try:
        return reverse("shops:detail", kwargs={"slug": shop.slug})
    except NoReverseMatch:
        return ""


def product_card(*, request: Any, product: Product, shop: Shop | None = None, url: str | None = None) -> dict[str, Any]:
    """Open Graph, Twitter and schema.org Product data for a product (recommended by `shop`)."""
    page_url = url or _absolute(request, reverse("catalog:product", kwargs={"slug": product.slug}))
    images = [_absolute(request, image_url(image, thumbnail=False)) for image in _images(product)]
    images = [image for image in images if image]
    skus = _skus(product)
    prices = [sku.price_amount for sku in skus] or [product.min_price]
    currency = skus[0].currency if skus else product.currency
    in_stock = any(sku.stock > 0 for sku in skus)
    title = product.title
    if shop is not None:
        title = _("%(product)s · recommended by %(shop)s") % {"product": product.title, "shop": shop.name}
    description = _summary(product)
    offer: dict[str, Any] = {
        "@type": "Offer",
        "price": decimal_price(min(prices), currency),
        "priceCurrency": currency,
        "availability": SCHEMA_IN_STOCK if in_stock else SCHEMA_OUT_OF_STOCK,
        "url": page_url,
    }
    if min(prices) != max(prices):
        offer = {
            "@type": "AggregateOffer",
            "lowPrice": decimal_price(min(prices), currency),
            "highPrice": decimal_price(max(prices), currency),
            "offerCount": len(prices),
            "priceCurrency": currency,
            "availability": offer["availability"],
            "url": page_url,
        }
    ld: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "Product",
        "name": product.title,
        "description": description,
        "url": page_url,
        "offers": offer,
    }
    if images:
        ld["image"] = images
    if product.brand:
        ld["brand"] = {"@type": "Brand", "name": product.brand}
    return {
        "og_type": "product",
        "title": title,
        "description": description,
        "image": images[0] if images else "",
        "url": page_url,
        "price": decimal_price(min(prices), currency),
        "currency": currency,
        "availability": "instock" if in_stock else "oos",
        "json_ld": json_ld(ld),
    }


def shop_card(*, request: Any, shop: Shop, url: str | None = None) -> dict[str, Any]:
    page_url = url or _absolute(request, _shop_url(shop))
    return {
        "og_type": "website",
        "title": shop.name,
        "description": shop.pitch or _("%(shop)s: goods picked by a Grassroots shopkeeper.") % {"shop": shop.name},
        "image": _absolute(request, shop.avatar.url) if shop.avatar else "",
        "url": page_url,
        "json_ld": "",
    }


@register.inclusion_tag("attribution/_share_meta.html", takes_context=True)
def share_meta(
    context: template.Context,
    shop: Shop | None = None,
    product: Product | None = None,
    url: str = "",
    image: str = "",
    description: str = "",
) -> dict[str, Any]:
    """Link-preview tags: Open Graph, a Twitter card (large image when there is one), and for
    products schema.org Product JSON-LD. `url`, `image` (absolute) and `description` override the
    defaults: the product or shop page, its first image or avatar, its summary or pitch."""
    request = context.get("request")
    shop = shop if isinstance(shop, Shop) else None
    if isinstance(product, Product):
        card = product_card(request=request, product=product, shop=shop, url=url or None)
    elif shop is not None:
        card = shop_card(request=request, shop=shop, url=url or None)
    else:
        return {"card": None}
    if image:
        card["image"] = image
    if description:
        card["description"] = description
    return {"card": card, "site_name": SITE_NAME}


@register.inclusion_tag("attribution/_share_panel.html", takes_context=True)
def share_panel(context: template.Context, shop: Shop | None = None, product: Product | None = None) -> dict[str, Any]:
    """The short link (in a read-only field to copy), its QR code and PNG download. Without a
    shop, the viewer's own shop is used, and only when it carries `product`. Renders nothing when
    there is no link to show (no shop, a suspended shop, a product the shop does not carry)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if not isinstance(shop, Shop):
        shop = shop_for_user(user=user) if isinstance(product, Product) else None
    if shop is None or shop.status == Shop.Status.SUSPENDED:
        return {"link": None}
    try:
        link = share_link_for(shop=shop, product=product if isinstance(product, Product) else None)
    except ServiceError:
        return {"link": None}
    is_owner = getattr(user, "pk", None) == shop.owner_id
    return {
        "link": link,
        "url": _absolute(request, selectors.share_link_path(link)),
        "is_owner": is_owner,
        "share_page_url": reverse("attribution:share") if is_owner else "",
    }
