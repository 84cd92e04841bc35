"""Writes for merchants: applications, the verification state machine, members."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from grassroots.accounts.models import User
from grassroots.core.errors import Conflict, PermissionDenied, ValidationFailed
from grassroots.core.state_machine import build_machine
from grassroots.core.text import clean_plain_text
from grassroots.core.uploads import CheckedFile, check_document
from grassroots.merchants.models import Merchant, MerchantDocument, MerchantMember, MerchantStatusChange

S = Merchant.Status

MERCHANT_MACHINE = build_machine(
    "merchant",
    initial=S.APPLIED,
    edges=[
        (S.APPLIED, "verify", S.VERIFIED),
        (S.APPLIED, "reject", S.REJECTED),
        (S.REJECTED, "resubmit", S.APPLIED),
        (S.VERIFIED, "suspend", S.SUSPENDED),
        (S.SUSPENDED, "reinstate", S.VERIFIED),
    ],
)
CURATOR_ACTIONS = frozenset({"verify", "reject", "suspend", "reinstate"})
REASON_REQUIRED = frozenset({"reject", "suspend"})
MAX_REASON_LENGTH = 2000
# What a note card shows of a brand besides its status (feeds.cards.MERCHANT_FIELDS).
CARD_FIELDS = frozenset({"name", "slug"})

IMAGE_CONTENT_TYPES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}


def _is_curator(user: Any) -> bool:
    return bool(getattr(user, "is_curator", False))


def _is_owner(*, merchant: Merchant, user: Any) -> bool:
    if not getattr(user, "is_authenticated", False):
        return False
    return MerchantMember.objects.filter(merchant=merchant, user=user, role=MerchantMember.Role.OWNER).exists()


def _check_documents(
    *, business_licence: UploadedFile | None, brand_authorisation: UploadedFile | None
) -> dict[str, tuple[CheckedFile, str]]:
    """Check both files by content before anything is written; both are required."""
    missing = {
        name: "required"
        for name, upload in (("business_licence", business_licence), ("brand_authorisation", brand_authorisation))
        if upload is None
    }
    if missing:
        raise ValidationFailed(_("Both documents are required."), code="documents_required", fields=missing)
    assert business_licence is not None and brand_authorisation is not None
    return {
        MerchantDocument.Kind.BUSINESS_LICENCE: (
            check_document(business_licence, field="business_licence"),
            business_licence.name or "",
        ),
        MerchantDocument.Kind.BRAND_AUTHORISATION: (
            check_document(brand_authorisation, field="brand_authorisation"),
            brand_authorisation.name or "",
        ),
    }


def _content_type(checked: CheckedFile) -> str:
    if checked.kind == "pdf":
        return "application/pdf"
    return IMAGE_CONTENT_TYPES[checked.extension]


def _store_documents(
    *, merchant: Merchant, checked: dict[str, tuple[CheckedFile, str]], user: User, stored: list[MerchantDocument]
) -> None:
    for kind, (file, original_name) in checked.items():
        document = MerchantDocument(
            merchant=merchant,
            kind=kind,
            file_kind=file.kind,
            content_type=_content_type(file),
            original_name=clean_plain_text(original_name, max_length=120),
            uploaded_by=user,
        )
        # A random name: the uploader's file name never reaches the file system.
        document.file.save(f"{uuid.uuid4().hex}.{file.extension}", ContentFile(file.content), save=False)
        stored.append(document)
        document.save()


def _discard_files(documents: list[MerchantDocument]) -> None:
    for document in documents:
        if document.file.name:
            document.file.storage.delete(document.file.name)


def merchant_details_clean(*, name: str, description: str, brand_names: str, contact_email: str) -> dict[str, str]:
    """The merchant's public details as they are stored: plain text (no markup however it is
    encoded), a lower-cased valid contact email. For the application and for staff edits in the admin;
    422 with the offending fields otherwise."""
    fields: dict[str, str] = {}
    cleaned = {
        "name": clean_plain_text(name, max_length=120),
        "description": clean_plain_text(description, max_length=5000),
        "brand_names": clean_plain_text(brand_names, max_length=255),
        "contact_email": (contact_email or "").strip().lower(),
    }
    if not cleaned["name"]:
        fields["name"] = "required"
    if not cleaned["contact_email"]:
        fields["contact_email"] = "required"
    else:
        try:
            validate_email(cleaned["contact_email"])
        except DjangoValidationError:
            fields["contact_email"] = "invalid"
    if fields:
        raise ValidationFailed(_("Please correct the highlighted fields."), fields=fields)
    return cleaned


def _unique_slug(name: str) -> str:
    base = slugify(name)[:100] or "merchant"
    if not Merchant.objects.filter(slug=base).exists():
        return base
    return f"{base}-{secrets.token_hex(3)}"


def _pending_conflict() -> Conflict:
    return Conflict(_("You already have an application waiting for review."), code="application_pending")


def merchant_apply(
    *,
    user: User,
    name: str,
    description: str,
    brand_names: str,
    contact_email: str,
    business_licence: UploadedFile | None,
    brand_authorisation: UploadedFile | None,
) -> Merchant:
    """Create an application with its two documents; the applicant becomes the owner."""
    cleaned = merchant_details_clean(
        name=name, description=description, brand_names=brand_names, contact_email=contact_email
    )
    checked = _check_documents(business_licence=business_licence, brand_authorisation=brand_authorisation)
    if Merchant.objects.filter(applicant=user, status=S.APPLIED).exists():
        raise _pending_conflict()
    stored: list[MerchantDocument] = []
    try:
        with transaction.atomic():
            merchant = Merchant.objects.create(
                slug=_unique_slug(cleaned["name"]), status=S.APPLIED, applicant=user, **cleaned
            )
            MerchantMember.objects.create(merchant=merchant, user=user, role=MerchantMember.Role.OWNER)
            _store_documents(merchant=merchant, checked=checked, user=user, stored=stored)
            MerchantStatusChange.objects.create(
                merchant=merchant, from_status="", to_status=S.APPLIED, action="apply", actor=user
            )
    except BaseException as exc:
        # The rows rolled back; the files written meanwhile must go too.
        _discard_files(stored)
        if isinstance(exc, IntegrityError) and Merchant.objects.filter(applicant=user, status=S.APPLIED).exists():
            raise _pending_conflict() from None
        raise
    return merchant


def _after_commit_cards_changed(merchant_id: int, *, with_products: bool) -> None:
    """The feed cards showing this brand are out of date once this commits."""
    from grassroots.feeds.services import feed_card_invalidate_merchants

    transaction.on_commit(
        lambda: feed_card_invalidate_merchants(merchant_ids=[merchant_id], with_products=with_products)
    )


def merchant_details_changed(*, merchant: Merchant, fields: Iterable[str]) -> None:
    """Staff saved edits to the merchant in the admin (its form cleans them with
    merchant_details_clean and writes them): a new name reaches the brand's note cards once that
    save commits. The slug never changes: shared /brands/<slug>/ links must keep working."""
    if CARD_FIELDS.intersection(fields):
        _after_commit_cards_changed(merchant.pk, with_products=False)


def _transition(
    *,
    merchant: Merchant,
    action: str,
    actor: User,
    reason: str,
    on_success: Callable[[], None] | None = None,
) -> Merchant:
    """Move along MERCHANT_MACHINE with a conditional update on the current status plus an audit row."""
    if action in CURATOR_ACTIONS and not _is_curator(actor):
        raise PermissionDenied(_("Only curators may do this."))
    reason = clean_plain_text(reason, max_length=MAX_REASON_LENGTH)
    if action in REASON_REQUIRED and not reason:
        raise ValidationFailed(_("Please give a reason."), code="reason_required", fields={"reason": "required"})
    with transaction.atomic():
        current = Merchant.objects.values_list("status", flat=True).get(pk=merchant.pk)
        target = MERCHANT_MACHINE.next_state(current, action)
        updates: dict[str, Any] = {"status": target, "status_reason": reason}
        if action == "verify":
            updates["verified_at"] = timezone.now()
        if Merchant.objects.filter(pk=merchant.pk, status=current).update(**updates) != 1:
            # Someone else moved it between our read and our write.
            MERCHANT_MACHINE.next_state(Merchant.objects.values_list("status", flat=True).get(pk=merchant.pk), action)
            raise Conflict(
                _("The merchant changed meanwhile; reload and try again."), code="concurrent_change", transient=True
            )
        if on_success is not None:
            on_success()
        MerchantStatusChange.objects.create(
            merchant=merchant, from_status=current, to_status=target, action=action, actor=actor, reason=reason
        )
        # Note cards list a brand's products only while it is verified.
        _after_commit_cards_changed(merchant.pk, with_products=S.VERIFIED in (current, target))
    merchant.refresh_from_db()
    return merchant


def merchant_verify(*, merchant: Merchant, actor: User, reason: str = "") -> Merchant:
    return _transition(merchant=merchant, action="verify", actor=actor, reason=reason)


def merchant_reject(*, merchant: Merchant, actor: User, reason: str = "") -> Merchant:
    return _transition(merchant=merchant, action="reject", actor=actor, reason=reason)


def merchant_suspend(*, merchant: Merchant, actor: User, reason: str = "") -> Merchant:
    return _transition(merchant=merchant, action="suspend", actor=actor, reason=reason)


def merchant_reinstate(*, merchant: Merchant, actor: User, reason: str = "") -> Merchant:
    return _transition(merchant=merchant, action="reinstate", actor=actor, reason=reason)


CURATOR_TRANSITIONS = {
    "verify": merchant_verify,
    "reject": merchant_reject,
    "suspend": merchant_suspend,
    "reinstate": merchant_reinstate,
}


def merchant_resubmit(
    *,
    merchant: Merchant,
    actor: User,
    business_licence: UploadedFile | None,
    brand_authorisation: UploadedFile | None,
    reason: str = "",
) -> Merchant:
    """A rejected merchant's owner sends new documents; the old ones are kept but superseded."""
    if not _is_owner(merchant=merchant, user=actor):
        raise PermissionDenied(_("Only the merchant's owner may resubmit."))
    checked = _check_documents(business_licence=business_licence, brand_authorisation=brand_authorisation)
    stored: list[MerchantDocument] = []

    def replace_documents() -> None:
        MerchantDocument.objects.filter(merchant=merchant, is_current=True).update(is_current=False)
        _store_documents(merchant=merchant, checked=checked, user=actor, stored=stored)

    try:
        return _transition(
            merchant=merchant, action="resubmit", actor=actor, reason=reason, on_success=replace_documents
        )
    except BaseException as exc:
        _discard_files(stored)
        if isinstance(exc, IntegrityError):
            # The applicant opened another application meanwhile (one pending per applicant).
            raise _pending_conflict() from None
        raise


def merchant_member_add(*, merchant: Merchant, actor: User, email: str, role: str) -> MerchantMember:
    """Owners add existing users by email, as staff or co-owners."""
    if not _is_owner(merchant=merchant, user=actor):
        raise PermissionDenied(_("Only the merchant's owner may add members."))
    if role not in MerchantMember.Role.values:
        raise ValidationFailed(_("Unknown role."), fields={"role": "invalid"})
    user = User.objects.filter(email__iexact=(email or "").strip(), is_active=True).first()
    if user is None:
        raise ValidationFailed(
            _("No user has this email address; they need to sign up first."),
            code="unknown_user",
            fields={"email": "unknown"},
        )
    try:
        with transaction.atomic():
            return MerchantMember.objects.create(merchant=merchant, user=user, role=role)
    except IntegrityError:
        raise Conflict(_("This user is already a member."), code="already_member") from None
