"""Note pages: compose, read, edit, delete, publish, share, drafts. Plain forms that POST then
redirect; htmx only enhances the product picker."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import select_template
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.core.errors import NotFound, ServiceError
from grassroots.notes import selectors, services
from grassroots.notes.models import BODY_MAX_LENGTH, MAX_IMAGES, MAX_PRODUCTS, TITLE_MAX_LENGTH, Note

PICKER_RESULTS = 12
DRAFTS_SHOWN = 100


def _limits() -> dict[str, int]:
    return {
        "title_max": TITLE_MAX_LENGTH,
        "body_max": BODY_MAX_LENGTH,
        "max_images": MAX_IMAGES,
        "max_products": MAX_PRODUCTS,
    }


def _template_exists(name: str) -> bool:
    try:
        select_template([name])
    except TemplateDoesNotExist:
        return False
    return True


def product_ids_from(data: Any) -> list[str]:
    """Checkbox values and/or the no-JS text field ("12, 15 19"): every token, in order."""
    tokens: list[str] = []
    for value in data.getlist("product_ids"):
        tokens.extend(part for part in value.replace(",", " ").split() if part)
    return tokens


def _brands(user: Any) -> list[Any]:
    from grassroots.merchants.models import Merchant

    return list(Merchant.objects.filter(memberships__user=user, status=Merchant.Status.VERIFIED).order_by("name"))


def _picked_products(ids: list[str]) -> list[Any]:
    from grassroots.catalog.selectors import products_listed

    numbers = [int(value) for value in ids if value.isascii() and value.isdigit() and len(value) < 19]
    by_id = {product.pk: product for product in products_listed().filter(pk__in=numbers)}
    return [by_id[pk] for pk in dict.fromkeys(numbers) if pk in by_id]


# --- compose ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def compose(request: HttpRequest) -> HttpResponse:
    context: dict[str, Any] = {
        "title": request.POST.get("title", ""),
        "body": request.POST.get("body", ""),
        "product_ids": product_ids_from(request.POST) if request.method == "POST" else [],
        "merchant_id": request.POST.get("merchant_id", ""),
        "brands": _brands(request.user),
        "error": None,
        **_limits(),
    }
    status = 200
    if request.method == "POST":
        publish = request.POST.get("action") != "draft"
        try:
            note = services.note_create(
                author=request.user,
                title=context["title"],
                body=context["body"],
                images=request.FILES.getlist("images"),
                product_ids=context["product_ids"],
                merchant_id=context["merchant_id"] or None,
                publish=publish,
            )
        except ServiceError as error:
            context["error"] = error
            status = error.status
        else:
            if publish:
                messages.success(request, _("Your note is published."))
                return redirect("notes:detail", pk=note.pk)
            messages.success(request, _("Your draft is saved."))
            return redirect("notes:drafts")
    context["picked"] = _picked_products(context["product_ids"])
    response = render(request, "notes/compose.html", context, status=status)
    if status == 429 and context["error"] is not None:
        response["Retry-After"] = str(context["error"].retry_after)
    return response


@login_required
@require_GET
def product_search(request: HttpRequest) -> HttpResponse:
    """Listed products whose title matches `q`: checkboxes for the composer (htmx), or a page
    listing product numbers for the no-JavaScript composer."""
    from grassroots.catalog.selectors import products_listed

    query = request.GET.get("q", "").strip()[:100]
    products = list(products_listed(query=query)[:PICKER_RESULTS]) if query else []
    if not request.htmx:  # type: ignore[attr-defined]
        return render(request, "notes/product_search.html", {"products": products, "q": query})
    # The composer sends the products ticked so far: they move to the picked list (out of band)
    # and leave the results, so a new search never drops an earlier pick.
    picked = _picked_products(product_ids_from(request.GET))
    picked_ids = {product.pk for product in picked}
    context = {
        "products": [product for product in products if product.pk not in picked_ids],
        "matched": bool(products),
        "q": query,
        "picked": picked,
        "picked_oob": True,
    }
    return render(request, "notes/_product_results.html", context)


# --- reading ------------------------------------------------------------------------------


def _note_or_404(request: HttpRequest, pk: int) -> Note:
    try:
        return selectors.note_for_viewer(note_id=pk, viewer=request.user)
    except NotFound:
        raise Http404 from None


@require_GET
def detail(request: HttpRequest, pk: int) -> HttpResponse:
    note = _note_or_404(request, pk)
    selectors.notes_cards([note], request.user)
    is_author = request.user.is_authenticated and request.user.pk == note.author_id
    public = note.status == Note.Status.PUBLISHED and note.moderation == Note.Moderation.VISIBLE
    images = list(note.images.all())
    summary = Truncator(" ".join(strip_tags(note.body).split())).chars(200)
    canonical = request.build_absolute_uri(reverse("notes:detail", kwargs={"pk": note.pk}))
    context = {
        "note": note,
        "images": images,
        "is_author": is_author,
        "og_description": summary,
        "og_image": request.build_absolute_uri(images[0].image.url) if images else "",
        "canonical_url": canonical,
        "has_actions": public and _template_exists("interactions/_note_actions.html"),
        "has_comments": False,
        "profile_url": services.profile_path(note.author.handle or ""),
    }
    if note.status == Note.Status.PUBLISHED and _template_exists("interactions/_comments.html"):
        from grassroots.interactions.selectors import comments_for_note

        context["has_comments"] = True
        context["comments"] = comments_for_note(note_id=note.pk, viewer_id=request.user.pk)
    response = render(request, "notes/detail.html", context)
    if not public:
        response["X-Robots-Tag"] = "noindex"
    return response


@login_required
@require_GET
def drafts(request: HttpRequest) -> HttpResponse:
    notes = list(selectors.notes_drafts(user=request.user)[:DRAFTS_SHOWN])
    return render(request, "notes/drafts.html", {"notes": notes})


# --- editing ------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        note = selectors.note_for_author(note_id=pk, user=request.user)
    except NotFound:
        raise Http404 from None
    images = list(note.images.all())
    current_products = [
        str(pid) for pid in note.product_tags.order_by("position", "id").values_list("product_id", flat=True)
    ]
    context: dict[str, Any] = {
        "note": note,
        "images": images,
        "title": note.title,
        "body": note.body,
        "product_ids": current_products,
        "error": None,
        **_limits(),
    }
    status = 200
    if request.method == "POST":
        context["title"] = request.POST.get("title", "")
        context["body"] = request.POST.get("body", "")
        context["product_ids"] = product_ids_from(request.POST)
        try:
            services.note_update(
                user=request.user,
                note_id=note.pk,
                title=context["title"],
                body=context["body"],
                product_ids=context["product_ids"],
                image_order=request.POST.getlist("keep_images"),
                new_images=request.FILES.getlist("images"),
            )
            if request.POST.get("action") == "publish":
                services.note_publish(user=request.user, note_id=note.pk)
        except NotFound:
            raise Http404 from None
        except ServiceError as error:
            context["error"] = error
            status = error.status
        else:
            messages.success(request, _("Your note is saved."))
            return redirect("notes:detail", pk=note.pk)
    context["picked"] = _picked_products(context["product_ids"])
    return render(request, "notes/edit.html", context, status=status)


@login_required
@require_POST
def publish(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.note_publish(user=request.user, note_id=pk)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("Your note is published."))
    return redirect("notes:detail", pk=pk)


@login_required
@require_POST
def delete(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        services.note_delete(user=request.user, note_id=pk)
    except NotFound:
        raise Http404 from None
    messages.success(request, _("Your note is deleted."))
    return redirect("notes:drafts")


@login_required
@require_http_methods(["GET", "POST"])
def share(request: HttpRequest, pk: int) -> HttpResponse:
    """The note's share link and QR code; counts the share (once per member)."""
    try:
        shared = services.note_share(note_id=pk, user=request.user, base_url=request.build_absolute_uri("/"))
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("notes:detail", pk=pk)
    return render(request, "notes/share.html", {"shared": shared, "note_id": pk})
