from __future__ import annotations

import factory

from grassroots.accounts.tests.factories import UserFactory
from grassroots.orders.models import Address, ShippingRule


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    owner = factory.SubFactory(UserFactory)
    name = "Li Lei"
    phone = "13800138000"
    region = "Zhejiang"
    city = "Hangzhou"
    line1 = "1 West Lake Road"
    postcode = "310000"
    # The owner's first address is the default, as address_create makes it.
    is_default = factory.LazyAttribute(lambda o: not Address.objects.filter(owner=o.owner, is_default=True).exists())


class ShippingRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ShippingRule

    currency = "CNY"
    flat_fee = 1000
    free_over = None
