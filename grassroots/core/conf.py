"""Typed access to the business settings in settings.GRASSROOTS."""

from typing import Any

from django.conf import settings


def gr_setting(name: str) -> Any:
    return settings.GRASSROOTS[name]
