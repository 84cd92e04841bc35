"""What readers do with a note: like it, collect it into named collections, comment and reply."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

COMMENT_MAX_LENGTH = 1000
COLLECTION_NAME_MAX_LENGTH = 40


class Like(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="likes")
    note = models.ForeignKey("notes.Note", on_delete=models.CASCADE, related_name="likes")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "note"], name="uniq_like")]


class Collection(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collections")
    name = models.CharField(_("name"), max_length=COLLECTION_NAME_MAX_LENGTH)
    # The collection a plain "collect" goes into ("Saved"), created on first use; one per owner.
    is_default = models.BooleanField(default=False)
    item_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="uniq_collection_name"),
            models.UniqueConstraint(fields=["owner"], condition=Q(is_default=True), name="uniq_default_collection"),
        ]

    def __str__(self) -> str:
        return self.name


class CollectionItem(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    note = models.ForeignKey("notes.Note", on_delete=models.CASCADE, related_name="collection_items")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["collection", "note"], name="uniq_collection_item")]


class CollectMark(models.Model):
    """One row while a user has a note in at least one of their collections.

    It is what `Note.collect_count` counts (distinct collectors), and its row is the lock that makes
    "first item added" / "last item removed" exact when the same user collects concurrently."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    note = models.ForeignKey("notes.Note", on_delete=models.CASCADE, related_name="collect_marks")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "note"], name="uniq_collect_mark")]


class Comment(models.Model):
    """A comment on a note, or a reply to a top-level comment (one level only)."""

    class Status(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        HIDDEN = "hidden", _("Hidden")
        REMOVED = "removed", _("Removed")
        DELETED = "deleted", _("Deleted")

    note = models.ForeignKey("notes.Note", on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="comments")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="replies")
    body = models.TextField(max_length=COMMENT_MAX_LENGTH)
    body_html = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.VISIBLE)
    moderation_reason = models.TextField(blank=True)
    reply_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["note", "parent", "created_at"], name="comment_thread")]
        constraints = [models.CheckConstraint(condition=~Q(parent=models.F("id")), name="comment_not_own_parent")]
