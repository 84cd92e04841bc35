from django import template

register = template.Library()


@register.filter
def bps_percent(bps: int | None) -> str:
    """{{ 1250|bps_percent }} -> 12.5%"""
    if bps is None:
        return ""
    return f"{int(bps) / 100:g}%"


@register.filter
def bps_number(bps: int | None) -> str:
    """{{ 1250|bps_number }} -> 12.5, for a percentage input's value; "" for no rate."""
    if not bps:
        return ""
    return f"{int(bps) / 100:g}"
