"""Moderation pages: the report form for members, and the curators' queue and decision page.
Plain forms, POST then redirect; no JavaScript needed."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.core.errors import ServiceError, ValidationFailed
from grassroots.core.page_guards import curator_required, raise_as_http
from grassroots.core.pagination import paginate
from grassroots.moderation import selectors, services
from grassroots.moderation.forms import DecisionForm, ReportForm
from grassroots.moderation.models import ModerationAction, Report, TargetKind

PAGE_SIZE = 30


def _safe_next(request: HttpRequest, value: str) -> str:
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return ""


def _target_id(value: str | None) -> int:
    try:
        target_id = int(value or "")
    except ValueError:
        raise Http404 from None
    if target_id < 1:
        raise Http404
    return target_id


# Members: report something -------------------------------------------------------------------


KIND_HEADINGS: dict[str, Any] = {
    TargetKind.NOTE: gettext_lazy("Report a note"),
    TargetKind.COMMENT: gettext_lazy("Report a comment"),
    TargetKind.MESSAGE: gettext_lazy("Report a message"),
    TargetKind.USER: gettext_lazy("Report a member"),
}


@require_http_methods(["GET", "POST"])
@login_required
def report(request: HttpRequest) -> HttpResponse:
    """`?kind=note&id=<id>` (note, comment, message or user): choose a reason, add details, send."""
    source = request.POST if request.method == "POST" else request.GET
    kind = source.get("kind", "")
    if kind not in TargetKind.values:
        raise Http404
    target_id = _target_id(source.get("id"))
    next_url = _safe_next(request, source.get("next", "")) or _safe_next(request, request.headers.get("Referer", ""))
    try:
        target = selectors.moderation_report_target(reporter=request.user, kind=kind, target_id=target_id)
    except ServiceError as exc:
        raise_as_http(exc)
        raise
    existing = selectors.open_reports_on(kind=kind, target_id=target_id).filter(reporter_id=request.user.pk).first()
    form = ReportForm(request.POST or None)
    status = 200
    if request.method == "POST" and existing is None and not target.is_own:
        status = 422
        if form.is_valid():
            try:
                services.report_create(
                    reporter=request.user,
                    target_kind=kind,
                    target_id=target_id,
                    reason=form.cleaned_data["reason"],
                    details=form.cleaned_data["details"],
                )
            except ServiceError as exc:
                raise_as_http(exc)
                form.add_error(None, exc.message)
                status = exc.status
            else:
                messages.success(request, _("Thank you. A curator will look at your report."))
                return HttpResponseRedirect(next_url or f"{reverse('moderation:report')}?kind={kind}&id={target_id}")
    elif target.is_own:
        status = 422 if request.method == "POST" else 200
    return render(
        request,
        "moderation/report.html",
        {
            "kind": kind,
            "target_id": target_id,
            "heading": KIND_HEADINGS[kind],
            "form": form,
            "existing": existing,
            "is_own": target.is_own,
            "next_url": next_url,
        },
        status=status,
    )


@require_GET
@login_required
def my_reports(request: HttpRequest) -> HttpResponse:
    queryset = selectors.reports_by_reporter(reporter_id=request.user.pk)
    try:
        items, next_cursor = paginate(queryset, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
    except ValidationFailed:
        items, next_cursor = paginate(queryset, cursor=None, limit=PAGE_SIZE)
    return render(request, "moderation/mine.html", {"reports": items, "next_cursor": next_cursor})


# Curators: the queue and the decision page -------------------------------------------------


@require_GET
@curator_required
def queue(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind", "")
    if kind not in TargetKind.values:
        kind = ""
    try:
        items, next_cursor = selectors.moderation_queue(
            viewer=request.user, kind=kind or None, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except ValidationFailed:
        items, next_cursor = selectors.moderation_queue(viewer=request.user, kind=kind or None, limit=PAGE_SIZE)
    return render(
        request,
        "moderation/queue.html",
        {"items": items, "next_cursor": next_cursor, "kind": kind, "kinds": TargetKind.choices},
    )


# The buttons that make sense for the target's current state (the services accept any of its kind's).
STATE_ACTIONS: dict[str, tuple[str, ...]] = {
    "visible": ("hide", "remove"),
    "hidden": ("remove", "restore"),
    "removed": ("restore",),
    "active": ("suspend",),
    "suspended": ("restore",),
}


def _target_context(request: HttpRequest, kind: str, target_id: int, form: DecisionForm | None) -> dict[str, Any]:
    try:
        history = selectors.moderation_target_history(viewer=request.user, kind=kind, target_id=target_id)
    except ServiceError as exc:
        raise_as_http(exc)
        raise
    applicable = set(services.ACTIONS_BY_KIND[kind]) & set(STATE_ACTIONS.get(history.preview.state, ()))
    if history.open_count:
        applicable.add(ModerationAction.Action.DISMISS)
    actions = [(value, label) for value, label in ModerationAction.Action.choices if value in applicable]
    return {
        "kind": kind,
        "kind_label": TargetKind(kind).label,
        "target_id": target_id,
        "history": history,
        "preview": history.preview,
        "form": form or DecisionForm(),
        "actions": actions,
        "open_status": Report.Status.OPEN,
    }


@require_GET
@curator_required
def target(request: HttpRequest, kind: str, target_id: int) -> HttpResponse:
    if kind not in TargetKind.values:
        raise Http404
    return render(request, "moderation/target.html", _target_context(request, kind, target_id, None))


@require_POST
@curator_required
def decide(request: HttpRequest, kind: str, target_id: int) -> HttpResponse:
    if kind not in TargetKind.values:
        raise Http404
    form = DecisionForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            decision = services.moderation_decide(
                moderator=request.user,
                action=form.cleaned_data["action"],
                reason=form.cleaned_data["reason"],
                target_kind=kind,
                target_id=target_id,
            )
        except ServiceError as exc:
            raise_as_http(exc)
            form.add_error("reason" if "reason" in exc.fields else None, exc.message)
            status = exc.status
        else:
            messages.success(
                request,
                _("Done: %(action)s. Open reports closed: %(count)s.")
                % {"action": decision.action.get_action_display(), "count": decision.reports_closed},
            )
            if request.POST.get("then") == "queue":
                return redirect("moderation:queue")
            return redirect("moderation:target", kind=kind, target_id=target_id)
    return render(request, "moderation/target.html", _target_context(request, kind, target_id, form), status=status)
