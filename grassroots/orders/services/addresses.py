"""The address book; each address is its owner's only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.utils.translation import gettext as _

from grassroots.core.errors import NotFound, ValidationFailed
from grassroots.core.rawsql import model_columns, model_from_row
from grassroots.core.text import clean_plain_text
from grassroots.orders.models import Address
from grassroots.orders.services.common import MAX_ADDRESSES, PHONE_RE, check_id


@dataclass(frozen=True)
class AddressInput:
    name: str
    phone: str
    region: str
    city: str
    line1: str
    postcode: str = ""


def _clean_address(data: AddressInput) -> dict[str, str]:
    limits = {"name": 60, "region": 60, "city": 60, "line1": 200, "postcode": 12}
    cleaned = {key: clean_plain_text(getattr(data, key), max_length=size) for key, size in limits.items()}
    errors = {key: "required" for key in ("name", "region", "city", "line1") if not cleaned[key]}
    phone = (data.phone or "").strip()
    if not PHONE_RE.match(phone):
        errors["phone"] = "invalid"
    if errors:
        raise ValidationFailed(_("Please check the address."), code="invalid_address", fields=errors)
    cleaned["phone"] = phone
    return cleaned


def owned_address(*, owner: Any, address_id: Any) -> Address:
    """The owner's address, or NotFound (someone else's is not found either). Raw SQL: every checkout
    runs it, and the ORM's query building cost more than the query."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {model_columns(Address, 'a')} FROM {Address._meta.db_table} AS a"  # noqa: S608
            " WHERE a.id = %s AND a.owner_id = %s",
            [check_id(address_id, field="address_id"), getattr(owner, "pk", None)],
        )
        row = cursor.fetchone()
    if row is None:
        raise NotFound(_("Address not found."))
    return model_from_row(Address, row)[0]


def address_create(*, owner: Any, data: AddressInput, is_default: bool = False) -> Address:
    cleaned = _clean_address(data)
    with transaction.atomic():
        count = Address.objects.filter(owner=owner).count()
        if count >= MAX_ADDRESSES:
            raise ValidationFailed(
                _("You can keep at most %(max)s addresses.") % {"max": MAX_ADDRESSES}, code="too_many_addresses"
            )
        make_default = is_default or count == 0
        if make_default:
            Address.objects.filter(owner=owner, is_default=True).update(is_default=False)
        return Address.objects.create(owner=owner, is_default=make_default, **cleaned)


def address_update(
    *, owner: Any, address_id: int, data: AddressInput | None = None, is_default: bool | None = None
) -> Address:
    address = owned_address(owner=owner, address_id=address_id)
    with transaction.atomic():
        if data is not None:
            for key, value in _clean_address(data).items():
                setattr(address, key, value)
        if is_default:
            Address.objects.filter(owner=owner, is_default=True).exclude(pk=address.pk).update(is_default=False)
            address.is_default = True
        address.save()
    return address


def address_delete(*, owner: Any, address_id: int) -> None:
    address = owned_address(owner=owner, address_id=address_id)
    with transaction.atomic():
        address.delete()
        if address.is_default:
            newest = Address.objects.filter(owner=owner).order_by("-id").first()
            if newest is not None:
                Address.objects.filter(pk=newest.pk).update(is_default=True)
