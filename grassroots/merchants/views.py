"""Merchant pages: apply, the merchant console, the curators' review, private documents."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.core.errors import NotFound, ServiceError, ValidationFailed
from grassroots.core.forms import add_service_error
from grassroots.core.numbers import digits_int
from grassroots.core.pagination import paginate
from grassroots.merchants import selectors, services
from grassroots.merchants.forms import ApplicationForm, MemberForm, ReasonForm, ResubmitForm
from grassroots.merchants.models import Merchant, MerchantMember

QUEUE_PAGE_SIZE = 25


def _console_url(merchant: Merchant) -> str:
    return f"{reverse('merchants:console')}?merchant={merchant.pk}"


def _member_merchant(request: HttpRequest, merchant_id: int) -> Merchant:
    try:
        return selectors.merchant_for_member(user=request.user, merchant_id=merchant_id)
    except NotFound:
        raise Http404 from None


@login_required
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest) -> HttpResponse:
    form = ApplicationForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                merchant = services.merchant_apply(
                    user=request.user,  # type: ignore[arg-type]
                    name=data["name"],
                    description=data["description"],
                    brand_names=data["brand_names"],
                    contact_email=data["contact_email"],
                    business_licence=data["business_licence"],
                    brand_authorisation=data["brand_authorisation"],
                )
            except ServiceError as error:
                add_service_error(form, error)
            else:
                messages.success(request, _("Thank you. Your application is waiting for review."))
                return redirect(_console_url(merchant))
        status = 422
    context = {"form": form, "merchants": list(selectors.merchants_for_user(user=request.user))}
    return render(request, "merchants/apply.html", context, status=status)


def _console_context(request: HttpRequest, merchant: Merchant, **forms: Any) -> dict[str, Any]:
    role = selectors.member_role(merchant=merchant, user=request.user)
    is_owner = role == MerchantMember.Role.OWNER
    return {
        "merchant": merchant,
        "merchants": list(selectors.merchants_for_user(user=request.user)),
        "role": role,
        "is_owner": is_owner,
        "is_selling": selectors.merchant_is_selling(merchant=merchant),
        "documents": list(selectors.merchant_documents(merchant=merchant, current_only=True)),
        "memberships": list(selectors.merchant_members(merchant=merchant)),
        "history": list(selectors.merchant_history(merchant=merchant)),
        "member_form": forms.get("member_form") or (MemberForm() if is_owner else None),
        "resubmit_form": forms.get("resubmit_form")
        or (ResubmitForm() if is_owner and merchant.status == Merchant.Status.REJECTED else None),
    }


@login_required
@require_GET
def console(request: HttpRequest) -> HttpResponse:
    requested = request.GET.get("merchant", "")
    if requested:
        merchant_id = digits_int(requested)
        if merchant_id is None:
            raise Http404
        merchant = _member_merchant(request, merchant_id)
    else:
        active = selectors.user_active_merchant(user=request.user)
        if active is None:
            return redirect("merchants:apply")
        merchant = active
    return render(request, "merchants/console.html", _console_context(request, merchant))


@login_required
@require_POST
def member_add(request: HttpRequest, merchant_id: int) -> HttpResponse:
    merchant = _member_merchant(request, merchant_id)
    form = MemberForm(request.POST)
    if form.is_valid():
        try:
            services.merchant_member_add(
                merchant=merchant,
                actor=request.user,  # type: ignore[arg-type]
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
            )
        except ServiceError as error:
            if not isinstance(error, ValidationFailed):
                messages.error(request, error.message)
                return redirect(_console_url(merchant))
            add_service_error(form, error)
        else:
            messages.success(request, _("Member added."))
            return redirect(_console_url(merchant))
    return render(request, "merchants/console.html", _console_context(request, merchant, member_form=form), status=422)


@login_required
@require_POST
def resubmit(request: HttpRequest, merchant_id: int) -> HttpResponse:
    merchant = _member_merchant(request, merchant_id)
    form = ResubmitForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.merchant_resubmit(
                merchant=merchant,
                actor=request.user,  # type: ignore[arg-type]
                business_licence=form.cleaned_data["business_licence"],
                brand_authorisation=form.cleaned_data["brand_authorisation"],
                reason=form.cleaned_data["note"],
            )
        except ServiceError as error:
            if not isinstance(error, ValidationFailed):
                messages.error(request, error.message)
                return redirect(_console_url(merchant))
            add_service_error(form, error)
        else:
            messages.success(request, _("New documents sent. Your application is waiting for review again."))
            return redirect(_console_url(merchant))
    context = _console_context(request, merchant, resubmit_form=form)
    return render(request, "merchants/console.html", context, status=422)


def _require_curator(request: HttpRequest) -> None:
    if not selectors.user_is_curator(user=request.user):
        raise DjangoPermissionDenied


@login_required
@require_GET
def review_queue(request: HttpRequest) -> HttpResponse:
    _require_curator(request)
    status = request.GET.get("status", Merchant.Status.APPLIED)
    if status not in Merchant.Status.values:
        status = Merchant.Status.APPLIED
    try:
        merchants, next_cursor = paginate(
            selectors.merchant_queue(status=status),
            cursor=request.GET.get("cursor") or None,
            limit=QUEUE_PAGE_SIZE,
            order=("id",),
        )
    except ValidationFailed:
        return redirect(f"{reverse('merchants:review')}?status={status}")
    counts = selectors.merchant_status_counts()
    tabs = [(value, label, counts[value]) for value, label in Merchant.Status.choices]
    context = {"merchants": merchants, "next_cursor": next_cursor, "status": status, "tabs": tabs}
    return render(request, "merchants/review_queue.html", context)


def _review_context(request: HttpRequest, merchant_id: int, errors: dict[str, ReasonForm] | None = None) -> dict:
    _require_curator(request)
    try:
        merchant = selectors.merchant_for_review(user=request.user, merchant_id=merchant_id)
    except NotFound:
        raise Http404 from None
    errors = errors or {}
    actions = [
        (action, errors.get(action) or ReasonForm(prefix=action))
        for action in services.MERCHANT_MACHINE.actions_from(merchant.status)
        if action in services.CURATOR_ACTIONS
    ]
    return {
        "merchant": merchant,
        "documents": list(merchant.documents.all()),
        "memberships": list(merchant.memberships.all()),
        "history": list(selectors.merchant_history(merchant=merchant)),
        "actions": actions,
        "reason_required": services.REASON_REQUIRED,
    }


@login_required
@require_GET
def review_detail(request: HttpRequest, merchant_id: int) -> HttpResponse:
    return render(request, "merchants/review_detail.html", _review_context(request, merchant_id))


@login_required
@require_POST
def review_decide(request: HttpRequest, merchant_id: int, action: str) -> HttpResponse:
    _require_curator(request)
    if action not in services.CURATOR_TRANSITIONS:
        raise Http404
    try:
        merchant = selectors.merchant_get(merchant_id=merchant_id)
    except NotFound:
        raise Http404 from None
    form = ReasonForm(request.POST, prefix=action)
    if form.is_valid():
        try:
            services.CURATOR_TRANSITIONS[action](
                merchant=merchant,
                actor=request.user,  # type: ignore[arg-type]
                reason=form.cleaned_data["reason"],
            )
        except ServiceError as error:
            if not isinstance(error, ValidationFailed):
                messages.error(request, error.message)
                return redirect("merchants:review_detail", merchant_id=merchant.pk)
            add_service_error(form, error)
        else:
            messages.success(
                request,
                _("Saved: %(merchant)s is now %(status)s.")
                % {
                    "merchant": merchant.name,
                    "status": merchant.get_status_display(),
                },
            )
            return redirect("merchants:review_detail", merchant_id=merchant.pk)
    context = _review_context(request, merchant_id, errors={action: form})
    return render(request, "merchants/review_detail.html", context, status=422)


@require_GET
def document(request: HttpRequest, document_id: int) -> HttpResponseBase:
    """Documents live in private storage; only the merchant's members and curators may read them."""
    try:
        doc = selectors.merchant_document_for_viewer(user=request.user, document_id=document_id)
    except NotFound:
        raise Http404 from None
    try:
        handle = doc.file.open("rb")
    except FileNotFoundError:
        raise Http404 from None
    extension = PurePosixPath(doc.file.name or "").suffix
    response = FileResponse(
        handle, content_type=doc.content_type, as_attachment=False, filename=f"{doc.kind}-{doc.pk}{extension}"
    )
    response["Cache-Control"] = "private, no-store"
    return response
