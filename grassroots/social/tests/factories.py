"""Test helpers for the social graph. Follows go through the service so counters stay exact."""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.notes.models import Note
from grassroots.social.models import Block, Mute
from grassroots.social.services import FollowOutcome, follow_add


class BlockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Block

    blocker = factory.SubFactory(UserFactory)
    blocked = factory.SubFactory(UserFactory)


class MuteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Mute

    muter = factory.SubFactory(UserFactory)
    muted = factory.SubFactory(UserFactory)


def follow(follower: Any, target: Any, kind: str = "user") -> FollowOutcome:
    """`follower` follows `target` (a User, Shop or Merchant) through the service."""
    return follow_add(follower=follower, kind=kind, target_id=target.pk)


def published_note(author: Any, *, title: str = "A note", merchant: Any = None, **extra: Any) -> Note:
    """A published, visible note written straight to the table (the notes service is tested in its app)."""
    now = timezone.now()
    return Note.objects.create(
        author=author,
        merchant=merchant,
        title=title,
        body=extra.pop("body", "Body text."),
        status=Note.Status.PUBLISHED,
        published_at=extra.pop("published_at", now),
        **extra,
    )
