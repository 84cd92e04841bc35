from django.apps import AppConfig


class CouponsConfig(AppConfig):
    name = "grassroots.coupons"
    label = "coupons"
