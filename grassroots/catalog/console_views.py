"""Merchant console pages for products."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
