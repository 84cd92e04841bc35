"""Reads for screening: queues, counts, histories, reports, evidence access."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext as _

from grassroots.catalog.models import Category, Product, ProductImage, ProductRevision, ProductStatusChange, Sku
from grassroots.core.errors import NotFound
from grassroots.curation.models import Evidence, ProductReport, ScreeningStage, StageDecision, Submission


def stages_by_code() -> dict[str, ScreeningStage]:
    return {stage.code: stage for stage in ScreeningStage.objects.all()}


def stage_list(*, active_only: bool = False) -> list[ScreeningStage]:
    stages = ScreeningStage.objects.order_by("position", "id")
    if active_only:
        stages = stages.filter(is_active=True)
    return list(stages)


def stage_get(*, code: str) -> ScreeningStage:
    stage = ScreeningStage.objects.filter(code=code).first()
    if stage is None:
        raise NotFound(_("No such stage."))
    return stage


def _submission_base() -> QuerySet[Submission]:
    return Submission.objects.select_related("product", "product__merchant", "current_stage", "revision")


def stage_queue(*, stage_code: str) -> QuerySet[Submission]:
    """Submissions waiting at a stage, oldest first."""
    return (
        _submission_base()
        .filter(state=Submission.State.IN_REVIEW, current_stage__code=stage_code)
        .order_by("created_at", "id")
    )


def submission_list(*, stage_code: str | None = None, state: str | None = None) -> QuerySet[Submission]:
    submissions = _submission_base()
    if stage_code:
        submissions = submissions.filter(current_stage__code=stage_code)
    if state:
        submissions = submissions.filter(state=state)
    return submissions


@dataclass(frozen=True)
class StageCount:
    stage: ScreeningStage
    waiting: int


def stage_counts() -> list[StageCount]:
    """Every active stage, plus retired ones that still hold submissions from older plans."""
    waiting = dict(
        Submission.objects.filter(state=Submission.State.IN_REVIEW)
        .values_list("current_stage_id")
        .annotate(n=Count("id"))
        .values_list("current_stage_id", "n")
    )
    return [
        StageCount(stage=stage, waiting=waiting.get(stage.pk, 0))
        for stage in ScreeningStage.objects.order_by("position", "id")
        if stage.is_active or waiting.get(stage.pk)
    ]


def _decisions_prefetch() -> Prefetch[Any]:
    return Prefetch(
        "decisions",
        queryset=StageDecision.objects.select_related("stage", "reviewer").prefetch_related("evidence"),
    )


def submission_detail(*, submission_id: int) -> Submission:
    submission = _submission_base().prefetch_related(_decisions_prefetch()).filter(pk=submission_id).first()
    if submission is None:
        raise NotFound(_("No such submission."))
    return submission


def product_screening_history(*, product_id: int) -> list[Submission]:
    """Every pass through screening, newest first, with decisions, reviewers and evidence."""
    return list(
        Submission.objects.filter(product_id=product_id)
        .select_related("current_stage", "submitted_by", "revision")
        .prefetch_related(_decisions_prefetch())
        .order_by("-created_at", "-id")
    )


def product_status_history(*, product_id: int) -> list[ProductStatusChange]:
    return list(
        ProductStatusChange.objects.filter(product_id=product_id).select_related("actor").order_by("created_at", "id")
    )


def product_for_review(*, product_id: int) -> Product:
    product = (
        Product.objects.select_related("merchant", "category")
        .prefetch_related(
            Prefetch("skus", queryset=Sku.objects.order_by("position", "id")),
            Prefetch("images", queryset=ProductImage.objects.filter(revision__isnull=True, is_active=True)),
        )
        .filter(pk=product_id)
        .first()
    )
    if product is None:
        raise NotFound(_("No such product."))
    return product


def product_latest_submission(*, product_id: int) -> Submission | None:
    return Submission.objects.filter(product_id=product_id).order_by("-created_at", "-id").first()


@dataclass(frozen=True)
class FieldChange:
    label: str
    current: str
    proposed: str

    @property
    def changed(self) -> bool:
        return self.current != self.proposed


@dataclass(frozen=True)
class SkuChange:
    code: str
    current_label: str
    current_price: int | None
    proposed_label: str
    proposed_price: int | None
    proposed_active: bool

    @property
    def is_new(self) -> bool:
        return self.current_price is None


def revision_changes(*, product: Product, revision: ProductRevision) -> tuple[list[FieldChange], list[SkuChange]]:
    """The proposed edit next to what is listed now."""
    payload = revision.payload or {}
    labels = {
        "title_en": _("Title (English)"),
        "title_zh": _("Title (Chinese)"),
        "brand": _("Brand"),
        "origin": _("Origin"),
        "description_md": _("Description"),
    }
    fields = [
        FieldChange(label=label, current=str(getattr(product, name) or ""), proposed=str(payload[name] or ""))
        for name, label in labels.items()
        if name in payload
    ]
    if "category_id" in payload:
        proposed = Category.objects.filter(pk=payload["category_id"]).first()
        fields.append(
            FieldChange(
                label=_("Category"),
                current=product.category.name,
                proposed=proposed.name if proposed else str(payload["category_id"]),
            )
        )
    current_skus = {sku.code: sku for sku in product.skus.all()}
    skus = []
    for data in payload.get("skus", []):
        if not isinstance(data, dict) or "code" not in data:
            continue
        current = current_skus.get(str(data["code"]))
        options = data.get("options") or {}
        skus.append(
            SkuChange(
                code=str(data["code"]),
                current_label=current.label if current else "",
                current_price=current.price_amount if current else None,
                proposed_label=" / ".join(str(v) for v in options.values()) or str(data["code"]),
                proposed_price=data.get("price_amount"),
                proposed_active=bool(data.get("is_active", True)),
            )
        )
    return fields, skus


def revision_new_images(*, revision: ProductRevision) -> list[ProductImage]:
    return list(ProductImage.objects.filter(revision=revision).order_by("position", "id"))


def open_reports() -> QuerySet[ProductReport]:
    """The reports queue: open ones, oldest first."""
    return (
        ProductReport.objects.filter(state=ProductReport.State.OPEN)
        .select_related("product", "reporter", "submission")
        .order_by("created_at", "id")
    )


def open_report_count() -> int:
    return ProductReport.objects.filter(state=ProductReport.State.OPEN).count()


def report_list_for(*, user: Any, state: str | None = None) -> QuerySet[ProductReport]:
    """Curators see every report; anyone else only their own."""
    reports = ProductReport.objects.select_related("product", "reporter", "handled_by").prefetch_related("evidence")
    if not user.is_curator:
        reports = reports.filter(reporter=user)
    if state:
        reports = reports.filter(state=state)
    return reports


def report_get_for(*, user: Any, report_id: int) -> ProductReport:
    report = report_list_for(user=user).filter(pk=report_id).first()
    if report is None:
        raise NotFound(_("No such report."))
    return report


def product_reports(*, product_id: int) -> list[ProductReport]:
    return list(
        ProductReport.objects.filter(product_id=product_id).select_related("reporter").order_by("-created_at", "-id")
    )


def evidence_get_for(*, user: Any, evidence_id: int) -> Evidence:
    """Curators see all evidence; a reporter sees what backs their own report. Anyone else: 404."""
    evidence = Evidence.objects.select_related("report").filter(pk=evidence_id).first()
    if evidence is None or not user.is_authenticated:
        raise NotFound(_("No such file."))
    if user.is_curator:
        return evidence
    if evidence.report is not None and evidence.report.reporter_id == user.pk:
        return evidence
    raise NotFound(_("No such file."))
