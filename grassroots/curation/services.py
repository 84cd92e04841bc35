"""Writes for screening: open a submission, record stage decisions, reports, suspension."""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext as _

from grassroots.catalog.models import Product, ProductRevision
from grassroots.catalog.workflow import product_transition
from grassroots.core.errors import Conflict, ValidationFailed
from grassroots.curation.models import ScreeningStage, Submission


def submission_open(
    *,
    product: Product,
    actor_id: int | None,
    reason: str = Submission.Reason.NEW,
    revision: ProductRevision | None = None,
) -> Submission:
    """Start a pass through every active stage, in order. One open submission per product."""
    stages = list(ScreeningStage.objects.filter(is_active=True).order_by("position", "id"))
    if not stages:
        raise ValidationFailed(_("No screening stages are configured."), code="no_stages")
    with transaction.atomic():
        if Submission.objects.filter(product=product, state=Submission.State.IN_REVIEW).exists():
            raise Conflict(_("This product is already in review."), code="already_in_review")
        if product.status != Product.Status.LISTED:
            action = "reopen" if product.status == Product.Status.SUSPENDED else "submit"
            product_transition(product=product, action=action, actor_id=actor_id)
        return Submission.objects.create(
            product=product,
            revision=revision,
            reason=reason,
            current_stage=stages[0],
            stage_plan=[stage.code for stage in stages],
            submitted_by_id=actor_id,
        )
