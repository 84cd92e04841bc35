from __future__ import annotations

import factory

from grassroots.accounts.tests.factories import UserFactory
from grassroots.merchants.models import Merchant, MerchantMember


class MerchantFactory(factory.django.DjangoModelFactory):
    """A verified merchant with one owner (`merchant.owner` after creation)."""

    class Meta:
        model = Merchant
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")
    status = Merchant.Status.VERIFIED

    @factory.post_generation
    def owner(obj, create, extracted, **kwargs):  # type: ignore[no-untyped-def]
        if not create:
            return
        user = extracted or UserFactory()
        MerchantMember.objects.create(merchant=obj, user=user, role=MerchantMember.Role.OWNER)
        obj.owner = user


class MerchantMemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MerchantMember

    merchant = factory.SubFactory(MerchantFactory)
    user = factory.SubFactory(UserFactory)
    role = MerchantMember.Role.STAFF
