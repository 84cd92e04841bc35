"""Seeding notes: a member's post about goods, with images, tagged products, hashtags and mentions."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

TITLE_MAX_LENGTH = 100
BODY_MAX_LENGTH = 2000
MAX_IMAGES = 9
MAX_PRODUCTS = 6
HASHTAG_MAX_LENGTH = 50


class Note(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        DELETED = "deleted", _("Deleted")

    class Moderation(models.TextChoices):
        VISIBLE = "visible", _("Visible")
        HIDDEN = "hidden", _("Hidden")  # pending review; the author still sees it, with the reason
        REMOVED = "removed", _("Removed")  # taken down; the author sees the reason

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notes")
    # Set when a merchant member posts as the brand: the note appears under the brand and is labelled.
    merchant = models.ForeignKey(
        "merchants.Merchant", null=True, blank=True, on_delete=models.CASCADE, related_name="notes"
    )
    title = models.CharField(_("title"), max_length=TITLE_MAX_LENGTH)
    body = models.TextField(_("text"), max_length=BODY_MAX_LENGTH, blank=True)
    # Rendered once at write time: escaped text with hashtags and @mentions linked, sanitised.
    body_html = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    moderation = models.CharField(max_length=10, choices=Moderation.choices, default=Moderation.VISIBLE)
    moderation_reason = models.TextField(blank=True)
    # Disclosure: set when the author earns commission on a tagged product or posts as a brand.
    # Once set it stays set (the label cannot be edited away).
    is_ad = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    published_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    # Exact counters, changed only by F() updates in the transaction that adds or removes the row.
    like_count = models.PositiveIntegerField(default=0)
    collect_count = models.PositiveIntegerField(default=0)
    comment_count = models.PositiveIntegerField(default=0)
    share_count = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["author", "status", "-published_at", "-id"], name="note_author_recent"),
            models.Index(fields=["merchant", "status", "-published_at", "-id"], name="note_merchant_recent"),
            models.Index(fields=["status", "moderation", "-published_at", "-id"], name="note_public_recent"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(status="published") | Q(published_at__isnull=False), name="note_published_has_time"
            ),
            models.CheckConstraint(
                condition=Q(like_count__gte=0, collect_count__gte=0, comment_count__gte=0, share_count__gte=0),
                name="note_counters_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return self.title


class NoteImage(models.Model):
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="images")
    image = models.ImageField(upload_to="notes/%Y/%m/")
    thumbnail = models.ImageField(upload_to="notes/thumbs/%Y/%m/")
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]


class NoteProduct(models.Model):
    """A product card in the note. Only listed (fully screened) products can be tagged."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="product_tags")
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="note_tags")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["note", "product"], name="uniq_note_product")]


class Hashtag(models.Model):
    name = models.CharField(max_length=HASHTAG_MAX_LENGTH, unique=True)  # lower-cased
    note_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"#{self.name}"


class NoteHashtag(models.Model):
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="hashtag_links")
    hashtag = models.ForeignKey(Hashtag, on_delete=models.CASCADE, related_name="note_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "hashtag"], name="uniq_note_hashtag")]
        indexes = [models.Index(fields=["hashtag", "note"], name="note_hashtag_lookup")]


class NoteMention(models.Model):
    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="mentions")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="note_mentions")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "user"], name="uniq_note_mention")]


class NoteShare(models.Model):
    """Who shared a note: share_count counts each member once per note."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["note", "user"], name="uniq_note_share")]
