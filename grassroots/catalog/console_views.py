"""Merchant console pages for products: list, new, edit (with images), detail with status history,
submit for screening, set stock. Plain forms, POST then redirect; no JavaScript needed."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.forms import BaseFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from grassroots.catalog import services
from grassroots.catalog.forms import (
    ProductForm,
    SkuRowForm,
    StockForm,
    edit_initial,
    sku_formset,
    sku_specs_from_formset,
)
from grassroots.catalog.models import Product, ProductImage
from grassroots.core.conf import gr_setting
from grassroots.core.errors import NotFound, PermissionDenied, ServiceError, ValidationFailed
from grassroots.core.numbers import digits_int
from grassroots.core.pagination import paginate
from grassroots.merchants.models import Merchant
from grassroots.merchants.selectors import merchant_is_selling

PAGE_SIZE = 50
# Service error field -> form field, for showing the message next to the input.
FORM_FIELDS = {
    "title_en": "title_en",
    "title_zh": "title_zh",
    "brand": "brand",
    "origin": "origin",
    "description_md": "description_md",
    "category_id": "category",
    "images": "images",
    "remove_image_ids": "remove_images",
}
SKU_FIELDS = {
    "code": "code",
    "options": "size",
    "price_amount": "price",
    "stock": "stock",
    "max_per_user": "max_per_user",
}


def _merchant_id(request: HttpRequest) -> int | None:
    value = request.GET.get("merchant", "")
    return digits_int(value)


def _acting_merchant(request: HttpRequest) -> Merchant:
    try:
        return services.acting_merchant(actor=request.user, merchant_id=_merchant_id(request))
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    except NotFound:
        raise Http404 from None


def _member_product(request: HttpRequest, product_id: int) -> Product:
    try:
        return services.merchant_product_get(user=request.user, product_id=product_id)
    except NotFound:
        raise Http404 from None


def _live_images(product: Product) -> list[ProductImage]:
    return [image for image in product.images.all() if image.revision_id is None]


def _pending_payload(product: Product) -> dict[str, Any] | None:
    pending = getattr(product, "pending_revisions", [])
    return dict(pending[0].payload) if pending else None


def _show_error(
    exc: ServiceError, form: ProductForm, formset: BaseFormSet[SkuRowForm], rows: list[tuple[int, dict[str, Any]]]
) -> None:
    """Put a service error next to the input it is about, else at the top of the form."""
    placed = False
    for key in exc.fields:
        parts = key.split(".")
        if parts[0] == "skus" and len(parts) == 3 and parts[1].isdigit() and int(parts[1]) < len(rows):
            row_form = formset.forms[rows[int(parts[1])][0]]
            name = SKU_FIELDS.get(parts[2])
            if name:
                row_form.add_error(name, exc.message)
                placed = True
        elif parts[0] in FORM_FIELDS and FORM_FIELDS[parts[0]] in form.fields:
            form.add_error(FORM_FIELDS[parts[0]], exc.message)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


@login_required
def products(request: HttpRequest) -> HttpResponse:
    try:
        merchant, queryset = services.merchant_products(user=request.user, merchant_id=_merchant_id(request))
    except PermissionDenied:
        raise DjangoPermissionDenied from None
    except NotFound:
        raise Http404 from None
    limit = PAGE_SIZE
    try:
        items, next_cursor = paginate(queryset, cursor=request.GET.get("cursor") or None, limit=limit, order=("-id",))
    except ValidationFailed:
        items, next_cursor = paginate(queryset, cursor=None, limit=limit, order=("-id",))
    next_url = ""
    if next_cursor:
        params = {"cursor": next_cursor, **({"merchant": str(merchant.pk)} if _merchant_id(request) else {})}
        next_url = f"{request.path}?{urlencode(params)}"
    rows = [{"product": product, "thumb": next(iter(_live_images(product)), None)} for product in items]
    return render(
        request,
        "catalog/console/products.html",
        {
            "merchant": merchant,
            "is_selling": merchant_is_selling(merchant=merchant),
            "rows": rows,
            "next_url": next_url,
        },
    )


@login_required
def product_new(request: HttpRequest) -> HttpResponse:
    merchant = _acting_merchant(request)
    currency = gr_setting("CURRENCY")
    posted = request.method == "POST"
    form = ProductForm(request.POST if posted else None, request.FILES if posted else None)
    formset = sku_formset(data=request.POST if posted else None, currency=currency)
    if posted and all([form.is_valid(), formset.is_valid()]):
        rows = sku_specs_from_formset(formset, known_options={}, taken_codes=set())
        data = form.cleaned_data
        try:
            product = services.product_create(
                actor=request.user,
                merchant_id=merchant.pk,
                category_id=data["category"].pk,
                title_en=data["title_en"],
                title_zh=data["title_zh"],
                brand=data["brand"],
                origin=data["origin"],
                description_md=data["description_md"],
                skus=[spec for _, spec in rows],
                images=data["images"],
            )
        except ServiceError as exc:
            _show_error(exc, form, formset, rows)
        else:
            messages.success(request, _("Saved as a draft. Add what is missing, then submit it for screening."))
            return redirect("catalog:console_product_detail", product_id=product.pk)
    return render(
        request,
        "catalog/console/product_form.html",
        {"merchant": merchant, "form": form, "formset": formset, "product": None},
        status=422 if posted else 200,
    )


@login_required
def product_edit(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _member_product(request, product_id)
    pending = _pending_payload(product) if product.status == Product.Status.LISTED else None
    initial, sku_rows, known_options = edit_initial(product, pending)
    images = list(product.images.all())
    posted = request.method == "POST"
    form = ProductForm(
        request.POST if posted else None, request.FILES if posted else None, initial=initial, images=images
    )
    formset = sku_formset(data=request.POST if posted else None, initial=sku_rows, currency=product.currency)
    if posted and all([form.is_valid(), formset.is_valid()]):
        taken = {sku.code for sku in product.skus.all()} | set(known_options)
        rows = sku_specs_from_formset(formset, known_options=known_options, taken_codes=taken)
        data = form.cleaned_data
        try:
            result = services.product_update(
                actor=request.user,
                product=product,
                title_en=data["title_en"],
                title_zh=data["title_zh"],
                brand=data["brand"],
                origin=data["origin"],
                description_md=data["description_md"],
                category_id=data["category"].pk,
                skus=[spec for _, spec in rows],
                new_images=data["images"],
                remove_image_ids=data.get("remove_images") or [],
            )
        except ServiceError as exc:
            _show_error(exc, form, formset, rows)
        else:
            if result.revision is not None:
                messages.info(
                    request,
                    _("Your edit went to screening. Buyers keep seeing the listed version until it passes."),
                )
            else:
                messages.success(request, _("Saved."))
            return redirect("catalog:console_product_detail", product_id=product.pk)
    return render(
        request,
        "catalog/console/product_form.html",
        {
            "merchant": product.merchant,
            "form": form,
            "formset": formset,
            "product": product,
            "images": images,
            "pending_removals": set((pending or {}).get("remove_image_ids", [])),
        },
        status=422 if posted else 200,
    )


ACTION_LABELS = {
    "create": gettext_lazy("Created as a draft"),
    "submit": gettext_lazy("Submitted for screening"),
    "approve": gettext_lazy("Approved and listed"),
    "approve_review": gettext_lazy("Passed a new review"),
    "approve_revision": gettext_lazy("Edit approved and published"),
    "request_changes": gettext_lazy("Changes requested"),
    "reject": gettext_lazy("Rejected"),
    "reject_revision": gettext_lazy("Edit rejected"),
    "suspend": gettext_lazy("Suspended"),
    "reopen": gettext_lazy("Reopened for screening"),
}
# Actions a merchant member takes; the rest are screening decisions, shown without the curator's name.
MERCHANT_ACTIONS = {"create", "submit"}
PAYLOAD_LABELS = {
    "title_en": gettext_lazy("Title (English)"),
    "title_zh": gettext_lazy("Title (Chinese)"),
    "brand": gettext_lazy("Brand"),
    "origin": gettext_lazy("Origin"),
    "description_md": gettext_lazy("Description"),
    "category_id": gettext_lazy("Category"),
    "skus": gettext_lazy("Variants and prices"),
    "remove_image_ids": gettext_lazy("Images removed"),
}


def _history_rows(product: Product) -> list[dict[str, Any]]:
    statuses = dict(Product.Status.choices)
    return [
        {
            "at": change.created_at,
            "action": ACTION_LABELS.get(change.action, change.action),
            "status": statuses.get(change.to_status, change.to_status),
            "by": str(change.actor) if change.action in MERCHANT_ACTIONS and change.actor else _("Screening team"),
            "note": change.note,
        }
        for change in services.product_history(product=product)
    ]


@login_required
def product_detail(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _member_product(request, product_id)
    pending = getattr(product, "pending_revisions", [])
    pending_images = [image for image in product.images.all() if image.revision_id is not None]
    pending_fields = [str(PAYLOAD_LABELS[k]) for k in (pending[0].payload if pending else {}) if k in PAYLOAD_LABELS]
    if pending_images:
        pending_fields.append(_("New images"))
    return render(
        request,
        "catalog/console/product_detail.html",
        {
            "merchant": product.merchant,
            "product": product,
            "skus": [sku for sku in product.skus.all() if sku.is_active],
            "images": _live_images(product),
            "pending_images": pending_images,
            "pending": pending[0] if pending else None,
            "pending_fields": pending_fields,
            "history": _history_rows(product),
            "can_submit": product.status in services.EDITABLE_STATUSES,
            "can_edit": product.status in services.EDITABLE_STATUSES or product.status == Product.Status.LISTED,
        },
    )


@login_required
@require_POST
def product_submit(request: HttpRequest, product_id: int) -> HttpResponse:
    product = _member_product(request, product_id)
    try:
        services.product_submit(actor=request.user, product=product)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Submitted for screening. You will see each decision here."))
    return redirect("catalog:console_product_detail", product_id=product.pk)


@login_required
@require_POST
def sku_stock(request: HttpRequest, product_id: int, sku_id: int) -> HttpResponse:
    product = _member_product(request, product_id)
    sku = next((s for s in product.skus.all() if s.pk == sku_id), None)
    if sku is None:
        raise Http404
    form = StockForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Stock is a whole number, zero or more."))
    else:
        try:
            services.sku_stock_set(actor=request.user, sku=sku, stock=form.cleaned_data["stock"])
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Stock updated."))
    return redirect("catalog:console_product_detail", product_id=product.pk)


urlpatterns: list[URLPattern] = [
    path("console/products/", products, name="console_products"),
    path("console/products/new/", product_new, name="console_product_new"),
    path("console/products/<int:product_id>/", product_detail, name="console_product_detail"),
    path("console/products/<int:product_id>/edit/", product_edit, name="console_product_edit"),
    path("console/products/<int:product_id>/submit/", product_submit, name="console_product_submit"),
    path("console/products/<int:product_id>/skus/<int:sku_id>/stock/", sku_stock, name="console_sku_stock"),
]
