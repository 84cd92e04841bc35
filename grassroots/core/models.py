from __future__ import annotations

from django.db import models


class IdempotencyRecord(models.Model):
    """One money-moving request, keyed by the client's Idempotency-Key.

    The UNIQUE constraint is what makes concurrent retries safe: exactly one insert wins and runs
    the request; the others read its stored response (or wait).
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        DONE = "done"

    owner = models.CharField(max_length=40)  # user id, or "anon"
    scope = models.CharField(max_length=60)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)
    state = models.CharField(max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    # Fencing token: whoever holds the claim stores the response only if the token is still theirs.
    lease = models.CharField(max_length=32)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    is_error = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "scope", "key"], name="uniq_idempotency_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} ({self.state})"
