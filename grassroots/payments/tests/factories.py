from __future__ import annotations

import factory

from grassroots.accounts.tests.factories import UserFactory
from grassroots.payments.models import PaymentIntent


class PaymentIntentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PaymentIntent

    payable_kind = "test"
    payable_id = factory.Sequence(lambda n: 100_000 + n)
    payer = factory.SubFactory(UserFactory)
    amount = 1000
    currency = "CNY"
    provider = "simulated"
