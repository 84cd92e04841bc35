from django import template

from grassroots.catalog import selectors
from grassroots.catalog.models import Product

register = template.Library()


@register.filter
def thumbnail_url(product: Product) -> str:
    """{{ product|thumbnail_url }}: the prefetched first image's thumbnail, or ""."""
    return selectors.thumbnail_url(product)
