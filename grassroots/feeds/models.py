"""Home-feed storage: the per-reader timeline (database backend), the sources whose notes are merged
in when the feed is read, and the discover ranking. See docs/adr/0011-home-feed-fan-out.md."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class TimelineEntry(models.Model):
    """One note in one reader's home timeline (fan-out on write). Capped per owner at
    FEED_TIMELINE_CAP; the oldest entries are trimmed. `published_at` and `author_id` are copies
    of the note's, so a page is one index range scan and unfollow/block can delete by author."""

    id = models.BigAutoField(primary_key=True)
    # Lookups by owner are served by the unique (owner, note) index and the recency index.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    note = models.ForeignKey("notes.Note", on_delete=models.CASCADE, related_name="+")
    # Not a foreign key: the note's author; deleting a user deletes their notes and so these rows.
    author_id = models.BigIntegerField()
    published_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "note"], name="feed_timeline_owner_note")]
        indexes = [models.Index(fields=["owner", "-published_at", "-note"], name="feed_timeline_recent")]


class FeedBigSource(models.Model):
    """A source (a person, a shop or a brand) whose notes are no longer fanned out on write but
    merged into followers' feeds when read. Set when one of its notes had more than
    FEED_FANOUT_ON_READ_THRESHOLD followers to reach; sticky, so a source that later loses
    followers stays merged on read and no note falls between the two paths."""

    target_kind = models.CharField(max_length=10)
    target_id = models.PositiveBigIntegerField()
    marked_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target_kind", "target_id"], name="feed_big_source_uniq")]


class DiscoverScore(models.Model):
    """A visible note's discover rank. The score is time-invariant (see feeds.ranking), so it only
    changes with the note's engagement and products; `discover_refresh` recomputes it in batches."""

    note = models.OneToOneField("notes.Note", on_delete=models.CASCADE, primary_key=True, related_name="discover")
    author_id = models.BigIntegerField()
    score = models.FloatField()
    published_at = models.DateTimeField()
    refreshed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["-score", "-note"], name="discover_rank"),
            models.Index(fields=["published_at"], name="discover_published"),
        ]
