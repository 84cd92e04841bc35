"""Merchants API: applications, the curator queue and verification transitions."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from ninja import Field, File, Form, Router, Schema
from ninja.files import UploadedFile
from ninja.responses import NinjaJSONEncoder

from grassroots.core.api_auth import optional_auth
from grassroots.core.conf import gr_setting
from grassroots.core.errors import PermissionDenied
from grassroots.core.pagination import paginate
from grassroots.merchants import selectors, services
from grassroots.merchants.models import Merchant, MerchantDocument, MerchantMember, MerchantStatusChange

router = Router(tags=["merchants"])


class DocumentOut(Schema):
    id: int
    kind: str
    file_kind: str
    content_type: str
    original_name: str
    is_current: bool
    created_at: datetime
    url: str

    @staticmethod
    def resolve_url(obj: MerchantDocument) -> str:
        return reverse("merchants:document", args=[obj.pk])


class MemberOut(Schema):
    user_id: int
    display_name: str
    role: str
    created_at: datetime

    @staticmethod
    def resolve_display_name(obj: MerchantMember) -> str:
        return obj.user.display_name


class _MerchantFields(Schema):
    id: int
    name: str
    slug: str
    description: str
    brand_names: str
    verified_at: datetime | None


class MerchantPublicOut(_MerchantFields):
    """What anyone may see of a verified merchant."""

    view: Literal["public"] = "public"


class MerchantSummaryOut(_MerchantFields):
    contact_email: str
    status: str
    status_reason: str
    created_at: datetime
    applicant_id: int | None


class MerchantOut(MerchantSummaryOut):
    """Members' and curators' view."""

    view: Literal["full"] = "full"
    documents: list[DocumentOut]
    # From the memberships, not Merchant.members (the bare users).
    members: list[MemberOut] = Field(validation_alias="memberships")


MerchantViewOut = Annotated[MerchantOut | MerchantPublicOut, Field(discriminator="view")]


class MerchantPage(Schema):
    items: list[MerchantSummaryOut]
    next_cursor: str | None


class StatusChangeOut(Schema):
    id: int
    action: str
    from_status: str
    to_status: str
    reason: str
    actor_id: int | None
    actor_name: str | None
    created_at: datetime

    @staticmethod
    def resolve_actor_name(obj: MerchantStatusChange) -> str | None:
        return obj.actor.display_name if obj.actor else None


class ReasonIn(Schema):
    reason: str = ""


class MemberIn(Schema):
    email: str
    role: str = MerchantMember.Role.STAFF


def _full(*, request: HttpRequest, merchant_id: int) -> Merchant:
    merchant, full = selectors.merchant_detail_for_viewer(user=request.user, merchant_id=merchant_id)
    assert full
    return merchant


@router.post("/applications", response={201: MerchantOut}, summary="Apply to sell (multipart form)")
def apply(
    request: HttpRequest,
    name: Form[str],
    contact_email: Form[str],
    business_licence: File[UploadedFile],
    brand_authorisation: File[UploadedFile],
    description: Form[str] = "",
    brand_names: Form[str] = "",
) -> tuple[int, Merchant]:
    merchant = services.merchant_apply(
        user=request.user,  # type: ignore[arg-type]
        name=name,
        description=description,
        brand_names=brand_names,
        contact_email=contact_email,
        business_licence=business_licence,
        brand_authorisation=brand_authorisation,
    )
    return 201, _full(request=request, merchant_id=merchant.pk)


@router.get("/mine", response=list[MerchantOut], summary="Merchants I belong to")
def mine(request: HttpRequest) -> list[Merchant]:
    return list(selectors.merchants_for_user_detailed(user=request.user))


@router.get("/", response=MerchantPage, summary="Curators: merchants by status, oldest first")
def queue(request: HttpRequest, status: str | None = None, cursor: str | None = None, limit: int | None = None) -> dict:
    if not selectors.user_is_curator(user=request.user):
        raise PermissionDenied("Only curators may list merchants.")
    items, next_cursor = paginate(
        selectors.merchant_queue(status=status),
        cursor=cursor,
        limit=limit or gr_setting("API_PAGE_SIZE"),
        order=("id",),
    )
    return {"items": items, "next_cursor": next_cursor}


@router.get(
    "/{int:merchant_id}",
    response=MerchantViewOut,
    auth=optional_auth,
    summary="One merchant: everything for its members and curators, public fields of a verified one for others",
)
def detail(request: HttpRequest, merchant_id: int) -> JsonResponse:
    merchant, full = selectors.merchant_detail_for_viewer(user=request.user, merchant_id=merchant_id)
    # Serialised here with the schema this viewer may see; `view` tells clients which one it is.
    schema: type[Schema] = MerchantOut if full else MerchantPublicOut
    return JsonResponse(schema.from_orm(merchant).model_dump(), encoder=NinjaJSONEncoder)


@router.get("/{int:merchant_id}/history", response=list[StatusChangeOut], summary="Audit trail of status changes")
def history(request: HttpRequest, merchant_id: int) -> list[MerchantStatusChange]:
    merchant = _full(request=request, merchant_id=merchant_id)
    return list(selectors.merchant_history(merchant=merchant))


def _transition(request: HttpRequest, merchant_id: int, action: str, reason: str) -> Merchant:
    merchant = selectors.merchant_get(merchant_id=merchant_id)
    services.CURATOR_TRANSITIONS[action](merchant=merchant, actor=request.user, reason=reason)  # type: ignore[arg-type]
    return _full(request=request, merchant_id=merchant_id)


@router.post("/{int:merchant_id}/verify", response=MerchantOut, summary="Curators: verify an application")
def verify(request: HttpRequest, merchant_id: int, payload: ReasonIn) -> Merchant:
    return _transition(request, merchant_id, "verify", payload.reason)


@router.post("/{int:merchant_id}/reject", response=MerchantOut, summary="Curators: reject, with a reason")
def reject(request: HttpRequest, merchant_id: int, payload: ReasonIn) -> Merchant:
    return _transition(request, merchant_id, "reject", payload.reason)


@router.post("/{int:merchant_id}/suspend", response=MerchantOut, summary="Curators: suspend, with a reason")
def suspend(request: HttpRequest, merchant_id: int, payload: ReasonIn) -> Merchant:
    return _transition(request, merchant_id, "suspend", payload.reason)


@router.post("/{int:merchant_id}/reinstate", response=MerchantOut, summary="Curators: reinstate a suspended merchant")
def reinstate(request: HttpRequest, merchant_id: int, payload: ReasonIn) -> Merchant:
    return _transition(request, merchant_id, "reinstate", payload.reason)


@router.post("/{int:merchant_id}/resubmit", response=MerchantOut, summary="Owner: new documents after a rejection")
def resubmit(
    request: HttpRequest,
    merchant_id: int,
    business_licence: File[UploadedFile],
    brand_authorisation: File[UploadedFile],
    note: Form[str] = "",
) -> Merchant:
    merchant = selectors.merchant_for_member(user=request.user, merchant_id=merchant_id)
    services.merchant_resubmit(
        merchant=merchant,
        actor=request.user,  # type: ignore[arg-type]
        business_licence=business_licence,
        brand_authorisation=brand_authorisation,
        reason=note,
    )
    return _full(request=request, merchant_id=merchant_id)


@router.post("/{int:merchant_id}/members", response={201: MemberOut}, summary="Owner: add a member by email")
def add_member(request: HttpRequest, merchant_id: int, payload: MemberIn) -> tuple[int, MerchantMember]:
    merchant = selectors.merchant_for_member(user=request.user, merchant_id=merchant_id)
    member = services.merchant_member_add(
        merchant=merchant,
        actor=request.user,  # type: ignore[arg-type]
        email=payload.email,
        role=payload.role,
    )
    return 201, member
