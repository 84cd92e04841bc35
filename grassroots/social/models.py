"""The social graph: who follows whom (people, shops, brands), and who blocks or mutes whom."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class FollowTarget(models.TextChoices):
    USER = "user", _("Person")
    SHOP = "shop", _("Shop")
    MERCHANT = "merchant", _("Brand")


class Follow(models.Model):
    """One follower following one target (a user, a shop or a merchant's brand profile).

    The target is (kind, id) rather than three foreign keys so feeds can ask "who follows any of
    this note's sources" with one indexed query; services check the target exists.
    """

    follower = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows")
    target_kind = models.CharField(max_length=10, choices=FollowTarget.choices)
    target_id = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "target_kind", "target_id"], name="uniq_follow"),
            models.CheckConstraint(
                condition=~Q(target_kind="user", target_id=models.F("follower")), name="follow_not_self"
            ),
        ]
        indexes = [models.Index(fields=["target_kind", "target_id", "-created_at"], name="follow_target_recent")]


class FollowCounter(models.Model):
    """Exact follower / following counts, changed only by F() updates in the same transaction as
    the Follow row they count, so concurrent follows and unfollows never drift."""

    target_kind = models.CharField(max_length=10, choices=FollowTarget.choices)
    target_id = models.PositiveBigIntegerField()
    followers = models.PositiveIntegerField(default=0)
    following = models.PositiveIntegerField(default=0)  # only for kind "user"

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["target_kind", "target_id"], name="uniq_follow_counter"),
            models.CheckConstraint(condition=Q(followers__gte=0, following__gte=0), name="follow_counter_non_negative"),
        ]


class Block(models.Model):
    """Blocking hides both people from each other everywhere (feeds, comments, mentions, messages)
    and ends follows in both directions."""

    blocker = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made")
    blocked = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="uniq_block"),
            models.CheckConstraint(condition=~Q(blocker=models.F("blocked")), name="block_not_self"),
        ]


class Mute(models.Model):
    """Muting hides someone's content from the muter only; the muted person is not told."""

    muter = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mutes_made")
    muted = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mutes_received")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["muter", "muted"], name="uniq_mute"),
            models.CheckConstraint(condition=~Q(muter=models.F("muted")), name="mute_not_self"),
        ]
