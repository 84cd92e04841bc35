"""Reads for merchants, each scoped to who may see it."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Prefetch, QuerySet
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.merchants.models import Merchant, MerchantDocument, MerchantMember, MerchantStatusChange


def _signed_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def user_is_curator(*, user: Any) -> bool:
    return bool(getattr(user, "is_curator", False))


def _not_found() -> NotFound:
    return NotFound(_("Merchant not found."))


def merchants_for_user(*, user: Any) -> QuerySet[Merchant]:
    """The merchants `user` is a member of, oldest membership first."""
    if not _signed_in(user):
        return Merchant.objects.none()
    return Merchant.objects.filter(memberships__user=user).order_by("memberships__created_at", "id")


def merchants_for_user_detailed(*, user: Any) -> QuerySet[Merchant]:
    return _with_details(merchants_for_user(user=user))


def merchant_get(*, merchant_id: int) -> Merchant:
    merchant = Merchant.objects.filter(pk=merchant_id).first()
    if merchant is None:
        raise _not_found()
    return merchant


def merchant_for_member(*, user: Any, merchant_id: int) -> Merchant:
    """The merchant, if `user` belongs to it; otherwise NotFound. Use it to authorise console pages."""
    if not _signed_in(user):
        raise _not_found()
    merchant = Merchant.objects.filter(pk=merchant_id, memberships__user=user).first()
    if merchant is None:
        raise _not_found()
    return merchant


def merchant_is_selling(*, merchant: Merchant) -> bool:
    return merchant.status == Merchant.Status.VERIFIED


def user_active_merchant(*, user: Any) -> Merchant | None:
    """The merchant a console acts for: the user's first membership."""
    return merchants_for_user(user=user).first()


def member_role(*, merchant: Merchant, user: Any) -> str | None:
    if not _signed_in(user):
        return None
    return MerchantMember.objects.filter(merchant=merchant, user=user).values_list("role", flat=True).first()


def merchant_documents(*, merchant: Merchant, current_only: bool = False) -> QuerySet[MerchantDocument]:
    queryset = MerchantDocument.objects.filter(merchant=merchant)
    if current_only:
        queryset = queryset.filter(is_current=True)
    return queryset.order_by("-is_current", "kind", "-id")


def merchant_members(*, merchant: Merchant) -> QuerySet[MerchantMember]:
    return MerchantMember.objects.filter(merchant=merchant).select_related("user").order_by("created_at", "id")


def merchant_queue(*, status: str | None) -> QuerySet[Merchant]:
    """Curators' review queue; no status means every merchant."""
    queryset = Merchant.objects.select_related("applicant")
    if status:
        if status not in Merchant.Status.values:
            raise ValidationFailed(_("Unknown status."), fields={"status": "invalid"})
        queryset = queryset.filter(status=status)
    return queryset


def merchant_status_counts() -> dict[str, int]:
    rows = Merchant.objects.values("status").annotate(n=Count("id")).order_by()
    counts = dict.fromkeys(Merchant.Status.values, 0)
    counts.update({row["status"]: row["n"] for row in rows})
    return counts


def merchant_history(*, merchant: Merchant) -> QuerySet[MerchantStatusChange]:
    return MerchantStatusChange.objects.filter(merchant=merchant).select_related("actor").order_by("created_at", "id")


def _with_details(queryset: QuerySet[Merchant]) -> QuerySet[Merchant]:
    return queryset.select_related("applicant").prefetch_related(
        Prefetch("documents", queryset=MerchantDocument.objects.order_by("-is_current", "kind", "-id")),
        Prefetch("memberships", queryset=MerchantMember.objects.select_related("user").order_by("created_at", "id")),
    )


def merchant_detail_for_viewer(*, user: Any, merchant_id: int) -> tuple[Merchant, bool]:
    """(merchant, full): members and curators see everything; anyone else only a verified merchant's
    public fields; otherwise NotFound, so an unverified merchant's existence does not leak."""
    merchant = _with_details(Merchant.objects.filter(pk=merchant_id)).first()
    if merchant is None:
        raise _not_found()
    if user_is_curator(user=user) or any(m.user_id == getattr(user, "pk", None) for m in merchant.memberships.all()):
        return merchant, True
    if merchant_is_selling(merchant=merchant):
        return merchant, False
    raise _not_found()


def merchant_for_review(*, user: Any, merchant_id: int) -> Merchant:
    """A curator's full view of one merchant, documents and members loaded."""
    if not user_is_curator(user=user):
        raise _not_found()
    merchant = _with_details(Merchant.objects.filter(pk=merchant_id)).first()
    if merchant is None:
        raise _not_found()
    return merchant


def merchant_document_for_viewer(*, user: Any, document_id: int) -> MerchantDocument:
    """A document, only for its merchant's members and curators; NotFound for everyone else."""
    if not _signed_in(user):
        raise NotFound(_("Document not found."))
    queryset = MerchantDocument.objects.filter(pk=document_id)
    if not user_is_curator(user=user):
        queryset = queryset.filter(merchant__memberships__user=user)
    document = queryset.first()
    if document is None:
        raise NotFound(_("Document not found."))
    return document
