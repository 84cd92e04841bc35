"""Content to report: published notes, comments, direct messages, and reports on them."""

from __future__ import annotations

from typing import Any

import factory
from django.utils import timezone

from grassroots.accounts.tests.factories import UserFactory
from grassroots.interactions.models import Comment
from grassroots.messaging.models import Conversation, Message, Side
from grassroots.moderation.models import Report
from grassroots.notes.models import Note


def note_for(author: Any, **extra: Any) -> Note:
    values: dict[str, Any] = {
        "title": "Good tea",
        "body": "Brewed it twice.",
        "status": Note.Status.PUBLISHED,
        "published_at": timezone.now(),
    }
    values.update(extra)
    return Note.objects.create(author=author, **values)


def comment_on(note: Note, author: Any, **extra: Any) -> Comment:
    comment = Comment.objects.create(note=note, author=author, body=extra.pop("body", "Nice one"), **extra)
    if comment.status == Comment.Status.VISIBLE:
        Note.objects.filter(pk=note.pk).update(comment_count=note.comment_count + 1)
    return comment


def message_between(sender: Any, recipient: Any, body: str = "Hello there") -> Message:
    """A message in the one conversation between two members (lower id on side A)."""
    low, high = sorted((sender, recipient), key=lambda user: user.pk)
    conversation, _created = Conversation.objects.get_or_create(user_a=low, user_b=high, merchant=None)
    side = Side.A if sender.pk == low.pk else Side.B
    return Message.objects.create(conversation=conversation, sender=sender, sender_side=side, body=body)


class ReportFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Report

    reporter = factory.SubFactory(UserFactory)
    target_kind = "user"
    target_id = factory.LazyAttribute(lambda _o: UserFactory().pk)
    reason = Report.Reason.SPAM
    details = ""
