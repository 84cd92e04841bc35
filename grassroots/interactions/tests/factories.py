"""Test data for interactions. Notes are created as rows directly (published, visible)."""

from __future__ import annotations

import factory
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.interactions.models import Collection, Comment
from grassroots.notes.models import Note


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    author = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Note {n}")
    body = "Worth every cent."
    body_html = "<p>Worth every cent.</p>"
    status = Note.Status.PUBLISHED
    moderation = Note.Moderation.VISIBLE
    published_at = factory.LazyFunction(timezone.now)


class CollectionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Collection

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Collection {n}")


class CommentFactory(factory.django.DjangoModelFactory):
    """A raw comment row (counters untouched); use services.comment_create to keep counters exact."""

    class Meta:
        model = Comment

    note = factory.SubFactory(NoteFactory)
    author = factory.SubFactory(UserFactory)
    body = "Nice."
    body_html = "<p>Nice.</p>"
