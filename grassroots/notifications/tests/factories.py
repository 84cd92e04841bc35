from __future__ import annotations

import factory

from grassroots.accounts.tests.factories import UserFactory
from grassroots.notifications.models import Notification, NotificationKind


class NotificationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Notification

    recipient = factory.SubFactory(UserFactory)
    actor = factory.SubFactory(UserFactory)
    kind = NotificationKind.FOLLOW
    target_url = "/notifications/"
    data = factory.LazyFunction(dict)
