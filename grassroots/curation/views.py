"""Curator pages and the buyer's report form. Plain forms, POST then redirect; no JavaScript needed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.catalog.models import Product
from grassroots.core.errors import NotFound, ServiceError, ValidationFailed
from grassroots.core.page_guards import curator_required, raise_as_http
from grassroots.core.pagination import paginate
from grassroots.curation import selectors, services
from grassroots.curation.forms import (
    DecisionForm,
    ReportForm,
    ResolveForm,
    StageCreateForm,
    StageUpdateForm,
    SuspendForm,
)
from grassroots.curation.models import Evidence, ProductReport, ScreeningStage, StageDecision, Submission

PAGE_SIZE = 50
SUSPENDABLE = {Product.Status.LISTED, Product.Status.IN_REVIEW, Product.Status.CHANGES_REQUESTED}


def _page(request: HttpRequest, queryset: Any, order: tuple[str, ...]) -> tuple[list[Any], str | None]:
    try:
        return paginate(queryset, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE, order=order)
    except ValidationFailed:
        return paginate(queryset, cursor=None, limit=PAGE_SIZE, order=order)


def _back(request: HttpRequest, fallback: str) -> HttpResponseRedirect:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(fallback)


# Dashboard and queues -----------------------------------------------------------------------


@require_GET
@curator_required
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "curation/dashboard.html",
        {"counts": selectors.stage_counts(), "open_reports": selectors.open_report_count()},
    )


@require_GET
@curator_required
def queue(request: HttpRequest, stage_code: str) -> HttpResponse:
    stage = get_object_or_404(ScreeningStage, code=stage_code)
    items, next_cursor = _page(request, selectors.stage_queue(stage_code=stage.code), ("created_at", "id"))
    return render(
        request,
        "curation/queue.html",
        {"stage": stage, "submissions": items, "next_cursor": next_cursor, "counts": selectors.stage_counts()},
    )


# The review page ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanStep:
    stage: ScreeningStage | None
    code: str
    state: str  # "passed", "current", "failed", "pending"
    decision: StageDecision | None


def _plan_steps(submission: Submission, stages: dict[str, ScreeningStage]) -> list[PlanStep]:
    decided = {d.stage.code: d for d in submission.decisions.all()}
    steps = []
    for code in submission.stage_plan:
        decision = decided.get(code)
        if decision is not None:
            state = "passed" if decision.decision == StageDecision.Decision.PASS else "failed"
        elif submission.state == Submission.State.IN_REVIEW and submission.current_stage_id == getattr(
            stages.get(code), "pk", None
        ):
            state = "current"
        else:
            state = "pending"
        steps.append(PlanStep(stage=stages.get(code), code=code, state=state, decision=decision))
    return steps


def _review_context(
    request: HttpRequest,
    *,
    product_id: int,
    submission: Submission | None,
    decision_form: DecisionForm | None = None,
    suspend_form: SuspendForm | None = None,
) -> dict[str, Any]:
    product = selectors.product_for_review(product_id=product_id)
    stages = selectors.stages_by_code()
    history = selectors.product_screening_history(product_id=product.pk)
    if submission is not None:
        # The history already holds this submission with its decisions prefetched.
        submission = next((s for s in history if s.pk == submission.pk), submission)
    is_open = submission is not None and submission.state == Submission.State.IN_REVIEW
    field_changes: list[selectors.FieldChange] = []
    sku_changes: list[selectors.SkuChange] = []
    new_images: list[Any] = []
    if submission is not None and submission.revision is not None:
        field_changes, sku_changes = selectors.revision_changes(product=product, revision=submission.revision)
        new_images = selectors.revision_new_images(revision=submission.revision)
    if is_open and decision_form is None and submission is not None and submission.current_stage is not None:
        decision_form = DecisionForm(initial={"stage_code": submission.current_stage.code})
    has_open = any(s.state == Submission.State.IN_REVIEW for s in history)
    status_labels = {str(value): str(label) for value, label in Product.Status.choices}
    return {
        "product": product,
        "submission": submission,
        "is_open": is_open,
        "plan": _plan_steps(submission, stages) if submission is not None else [],
        "history": history,
        "status_changes": [
            (
                change,
                status_labels.get(change.from_status, change.from_status),
                status_labels.get(change.to_status, change.to_status),
            )
            for change in selectors.product_status_history(product_id=product.pk)
        ],
        "reports": selectors.product_reports(product_id=product.pk),
        "field_changes": field_changes,
        "sku_changes": sku_changes,
        "new_images": new_images,
        "decision_form": decision_form if is_open else None,
        "suspend_form": (suspend_form or SuspendForm()) if product.status in SUSPENDABLE else None,
        "can_reinstate": product.status == Product.Status.SUSPENDED and not has_open,
    }


@require_GET
@curator_required
def submission_review(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = get_object_or_404(Submission.objects.select_related("current_stage", "revision"), pk=submission_id)
    context = _review_context(request, product_id=submission.product_id, submission=submission)
    return render(request, "curation/review.html", context)


@require_GET
@curator_required
def product_review(request: HttpRequest, product_id: int) -> HttpResponse:
    """A product's screening page: its latest submission, or just its history if it never had one."""
    latest = selectors.product_latest_submission(product_id=product_id)
    if latest is not None:
        return redirect("curation:submission", submission_id=latest.pk)
    try:
        context = _review_context(request, product_id=product_id, submission=None)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return render(request, "curation/review.html", context)


@require_POST
@curator_required
def submission_decide(request: HttpRequest, submission_id: int) -> HttpResponse:
    submission = get_object_or_404(Submission, pk=submission_id)
    form = DecisionForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            decision = services.stage_decision_record(
                submission=submission,
                stage_code=form.cleaned_data["stage_code"],
                reviewer=request.user,
                decision=form.cleaned_data["decision"],
                notes=form.cleaned_data["notes"],
                evidence=request.FILES.getlist("evidence"),
            )
        except ServiceError as exc:
            raise_as_http(exc)
            form.add_error(None, exc.message)
            for field, why in exc.fields.items():
                if field in form.fields and field != "stage_code":
                    form.add_error(field, str(why))
            status = exc.status
        else:
            messages.success(
                request,
                _("%(stage)s: %(decision)s recorded for %(product)s.")
                % {
                    "stage": decision.stage.name,
                    "decision": decision.get_decision_display(),
                    "product": submission.product.title,
                },
            )
            submission.refresh_from_db()
            if submission.state == submission.State.IN_REVIEW:
                # Same curator, next stage: stay on the product instead of an emptied queue.
                return redirect("curation:submission", submission_id=submission.pk)
            return redirect("curation:queue", stage_code=decision.stage.code)
    submission.refresh_from_db()
    context = _review_context(request, product_id=submission.product_id, submission=submission, decision_form=form)
    if context["decision_form"] is None:
        # The submission closed meanwhile: say so above the page instead of a dead form.
        messages.error(request, " ".join(str(e) for e in form.non_field_errors()))
    return render(request, "curation/review.html", context, status=status)


@require_POST
@curator_required
def product_suspend(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    form = SuspendForm(request.POST)
    fallback = reverse("curation:product", args=[product.pk])
    if not form.is_valid():
        messages.error(request, _("Give the reason for the suspension."))
        return _back(request, fallback)
    try:
        services.product_suspend(product=product, actor=request.user, reason=form.cleaned_data["reason"])
    except ServiceError as exc:
        raise_as_http(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, _("%(product)s is suspended and no longer listed.") % {"product": product.title})
    return _back(request, fallback)


@require_POST
@curator_required
def product_reinstate(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id)
    try:
        submission = services.product_reinstate(product=product, actor=request.user)
    except ServiceError as exc:
        raise_as_http(exc)
        messages.error(request, exc.message)
        return redirect("curation:product", product_id=product.pk)
    messages.success(request, _("%(product)s is back in screening.") % {"product": product.title})
    return redirect("curation:submission", submission_id=submission.pk)


# Reports ------------------------------------------------------------------------------------


@require_GET
@curator_required
def report_list(request: HttpRequest) -> HttpResponse:
    state = request.GET.get("state", ProductReport.State.OPEN)
    if state not in ProductReport.State.values:
        state = ProductReport.State.OPEN
    queryset = selectors.report_list_for(user=request.user, state=state)
    order = ("created_at", "id") if state == ProductReport.State.OPEN else ("-id",)
    items, next_cursor = _page(request, queryset, order)
    return render(
        request,
        "curation/reports.html",
        {"reports": items, "next_cursor": next_cursor, "state": state, "states": ProductReport.State.choices},
    )


@require_GET
@curator_required
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    report = get_object_or_404(selectors.report_list_for(user=request.user), pk=report_id)
    return render(request, "curation/report_detail.html", _report_context(report, ResolveForm(), SuspendForm()))


def _report_context(report: ProductReport, resolve_form: ResolveForm, suspend_form: SuspendForm) -> dict[str, Any]:
    return {
        "report": report,
        "resolve_form": resolve_form if report.state == ProductReport.State.OPEN else None,
        "suspend_form": suspend_form if report.product.status in SUSPENDABLE else None,
    }


@require_POST
@curator_required
def report_resolve(request: HttpRequest, report_id: int) -> HttpResponse:
    report = get_object_or_404(selectors.report_list_for(user=request.user), pk=report_id)
    form = ResolveForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            services.report_resolve(
                report=report,
                actor=request.user,
                outcome=form.cleaned_data["outcome"],
                resolution=form.cleaned_data["resolution"],
            )
        except ServiceError as exc:
            raise_as_http(exc)
            form.add_error(None, exc.message)
            status = exc.status
        else:
            messages.success(request, _("The report is resolved."))
            return redirect("curation:reports")
    report.refresh_from_db()
    return render(request, "curation/report_detail.html", _report_context(report, form, SuspendForm()), status=status)


# Stages -------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@curator_required
def stage_list(request: HttpRequest) -> HttpResponse:
    form = StageCreateForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                services.stage_create(actor=request.user, **form.cleaned_data)
            except ServiceError as exc:
                raise_as_http(exc)
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("Stage added. New submissions go through it; open ones keep their plan."))
                return redirect("curation:stages")
    stages = selectors.stage_list()
    rows = [
        (
            stage,
            StageUpdateForm(
                initial={
                    "name_en": stage.name_en,
                    "name_zh": stage.name_zh,
                    "description": stage.description,
                    "is_active": stage.is_active,
                },
                prefix=f"s{stage.pk}",
            ),
        )
        for stage in stages
    ]
    return render(request, "curation/stages.html", {"rows": rows, "create_form": form}, status=status)


@require_POST
@curator_required
def stage_update(request: HttpRequest, stage_id: int) -> HttpResponse:
    stage = get_object_or_404(ScreeningStage, pk=stage_id)
    form = StageUpdateForm(request.POST, prefix=f"s{stage.pk}")
    if not form.is_valid():
        messages.error(request, _("The English name is required."))
        return redirect("curation:stages")
    try:
        services.stage_update(actor=request.user, stage=stage, **form.cleaned_data)
    except ServiceError as exc:
        raise_as_http(exc)
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Stage %(name)s saved.") % {"name": stage.name})
    return redirect("curation:stages")


@require_POST
@curator_required
def stage_move(request: HttpRequest, stage_id: int) -> HttpResponse:
    stage = get_object_or_404(ScreeningStage, pk=stage_id)
    try:
        services.stage_move(actor=request.user, stage=stage, direction=request.POST.get("direction", ""))
    except ServiceError as exc:
        raise_as_http(exc)
        messages.error(request, exc.message)
    return redirect("curation:stages")


# Files --------------------------------------------------------------------------------------


def evidence_response(evidence: Evidence) -> FileResponse:
    content_types = {
        "pdf": "application/pdf",
        "jpg": "image/jpeg",
        "png": "image/png",
        "webp": "image/webp",
        "gif": "image/gif",
    }
    extension = (evidence.file.name or "").rsplit(".", 1)[-1].lower()
    response = FileResponse(
        evidence.file.open("rb"),
        content_type=content_types.get(extension, "application/octet-stream"),
        as_attachment=evidence.file_kind == "pdf",
        filename=evidence.display_name,
    )
    response["Cache-Control"] = "private, no-store"
    # A PDF may carry scripts; never let one run in our origin.
    response["Content-Security-Policy"] = "sandbox; default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
    return response


@require_GET
@login_required
def evidence(request: HttpRequest, evidence_id: int) -> FileResponse:
    try:
        item = selectors.evidence_get_for(user=request.user, evidence_id=evidence_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return evidence_response(item)


# Buyers: report a product -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@login_required
def report_product(request: HttpRequest, product_id: int) -> HttpResponse:
    product = get_object_or_404(Product, pk=product_id, is_listed=True)
    form = ReportForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 422
        if form.is_valid():
            try:
                services.product_report_create(
                    reporter=request.user,
                    product=product,
                    kind=form.cleaned_data["kind"],
                    description=form.cleaned_data["description"],
                    evidence=request.FILES.getlist("evidence"),
                )
            except ServiceError as exc:
                raise_as_http(exc)
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("Thank you. A curator will review this product."))
                return redirect("curation:report_product", product_id=product.pk)
    own_reports = selectors.report_list_for(user=request.user).filter(product=product, reporter_id=request.user.pk)[:10]
    return render(
        request,
        "curation/report_product.html",
        {"product": product, "form": form, "own_reports": own_reports},
        status=status,
    )
