from django import template

from grassroots.core.money import format_minor

register = template.Library()


@register.filter
def money(amount: int | None, currency: str = "CNY") -> str:
    """{{ sku.price_amount|money:sku.currency }} -> ¥129.00"""
    if amount is None:
        return ""
    return format_minor(int(amount), currency or "CNY")
