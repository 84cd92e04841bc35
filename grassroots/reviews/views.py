"""Review pages: all reviews of a product, write a review, my items to review, the merchant's
reviews with reply forms, and the curator's hide button. Plain forms, POST then redirect."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from grassroots.core.errors import NotFound, ServiceError
from grassroots.core.pagination import paginate
from grassroots.merchants.selectors import user_active_merchant, user_is_curator
from grassroots.reviews import selectors, services
from grassroots.reviews.models import MAX_PHOTOS, RATING_MAX, RATING_MIN, TEXT_MAX_LENGTH

PAGE_SIZE = 20
STARS = list(range(RATING_MAX, RATING_MIN - 1, -1))


@require_GET
def product_reviews(request: HttpRequest, product_id: int) -> HttpResponse:
    try:
        product = selectors.product_for_reviews(product_id=product_id, viewer=request.user)
    except NotFound:
        raise Http404 from None
    try:
        reviews, next_cursor = selectors.product_reviews(
            product_id=product.pk, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("reviews:product", product_id=product.pk)
    return render(
        request,
        "reviews/product_reviews.html",
        {
            "product": product,
            "summary": selectors.product_rating_summary(product_id=product.pk),
            "reviews": reviews,
            "next_cursor": next_cursor,
            "can_hide": user_is_curator(user=request.user),
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def write(request: HttpRequest, order_line_id: int) -> HttpResponse:
    try:
        line = selectors.line_for_review(buyer=request.user, order_line_id=order_line_id)
    except NotFound:
        raise Http404 from None
    existing = selectors.line_review(line)
    if existing is not None:
        messages.info(request, _("You have already reviewed this item."))
        return redirect("reviews:product", product_id=line.product_id)
    context = {
        "line": line,
        "reviewable": selectors.line_is_reviewable(line),
        "stars": STARS,
        "max_photos": MAX_PHOTOS,
        "max_length": TEXT_MAX_LENGTH,
        "rating": request.POST.get("rating", ""),
        "text": request.POST.get("text", ""),
        "error": None,
    }
    status = 200 if context["reviewable"] else 422
    if request.method == "POST":
        try:
            services.review_create(
                buyer=request.user,
                order_line_id=line.pk,
                rating=request.POST.get("rating"),
                text=request.POST.get("text", ""),
                photos=request.FILES.getlist("photos"),
            )
        except ServiceError as error:
            if error.code == "already_reviewed":
                messages.info(request, error.message)
                return redirect("reviews:product", product_id=line.product_id)
            context["error"] = error
            status = error.status
        else:
            messages.success(request, _("Thank you! Your review is published."))
            return redirect("reviews:product", product_id=line.product_id)
    return render(request, "reviews/write.html", context, status=status)


@login_required
@require_GET
def pending(request: HttpRequest) -> HttpResponse:
    try:
        lines, next_cursor = paginate(
            selectors.reviewable_lines(buyer=request.user),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
            order=("-id",),
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("reviews:pending")
    return render(request, "reviews/pending.html", {"lines": lines, "next_cursor": next_cursor})


@login_required
@require_GET
def merchant(request: HttpRequest) -> HttpResponse:
    """The console list: reviews of the merchant's products, newest first, each with a reply form."""
    active = user_active_merchant(user=request.user)
    if active is None:
        raise Http404
    try:
        reviews, next_cursor = paginate(
            selectors.merchant_reviews(merchant=active),
            cursor=request.GET.get("cursor") or None,
            limit=PAGE_SIZE,
            order=("-id",),
        )
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("reviews:merchant")
    return render(
        request,
        "reviews/merchant.html",
        {"merchant": active, "reviews": reviews, "next_cursor": next_cursor, "max_length": TEXT_MAX_LENGTH},
    )


@login_required
@require_POST
def merchant_reply(request: HttpRequest, review_id: int) -> HttpResponse:
    try:
        services.review_reply(actor=request.user, review_id=review_id, text=request.POST.get("text", ""))
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Your reply is published."))
    return redirect(f"{reverse('reviews:merchant')}#review-{review_id}")


@login_required
@require_POST
def hide(request: HttpRequest, review_id: int) -> HttpResponse:
    """Curators only; the form sits on the product's review page and returns there."""
    if not user_is_curator(user=request.user):
        raise DjangoPermissionDenied
    try:
        review = services.review_hide(actor=request.user, review_id=review_id, reason=request.POST.get("reason", ""))
    except NotFound:
        raise Http404 from None
    except ServiceError as error:
        messages.error(request, error.message)
        target = request.POST.get("next", "")
        safe = bool(target) and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
        return redirect(target if safe else reverse("catalog:home"))
    messages.success(request, _("The review is hidden."))
    return redirect("reviews:product", product_id=review.product_id)
