"""Merchant console forms: a product, its variant rows and images. Prices are typed in major units
("129.00") and converted exactly to integer minor units; the services check everything again."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.forms import BaseFormSet, formset_factory
from django.utils.translation import gettext_lazy as _

from grassroots.catalog.models import Category, Product, ProductImage, Sku
from grassroots.core.money import CURRENCY_EXPONENT

CONSOLE_SKU_ROWS = 3
MAX_STOCK = 1_000_000_000
MAJOR_UNITS_RE = re.compile(r"^(\d{1,10})(?:\.(\d+))?$")
CONTENT_FIELDS = ("title_en", "title_zh", "brand", "origin", "description_md")


def major_to_minor(text: str, *, currency: str) -> int:
    """'129.00' -> 12900, by string arithmetic (never floats); more decimals than the currency has is refused."""
    exponent = CURRENCY_EXPONENT.get(currency, 2)
    match = MAJOR_UNITS_RE.match(text.strip())
    if match is None:
        raise ValidationError(_("Enter a price like 129.00."), code="invalid")
    whole, fraction = match.group(1), match.group(2) or ""
    if len(fraction) > exponent:
        raise ValidationError(_("Use at most %(n)s decimal places."), code="too_many_decimals", params={"n": exponent})
    amount = int(whole) * 10**exponent + int(fraction.ljust(exponent, "0") or "0")
    if amount <= 0:
        raise ValidationError(_("The price must be above zero."), code="not_positive")
    return amount


def minor_to_major(amount: int, *, currency: str) -> str:
    exponent = CURRENCY_EXPONENT.get(currency, 2)
    if exponent == 0:
        return str(amount)
    whole, fraction = divmod(amount, 10**exponent)
    return f"{whole}.{fraction:0{exponent}d}"


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Several files from one input; each is judged by its content in the services."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        single = super().clean
        files = data if isinstance(data, list | tuple) else [data]
        return [f for f in (single(d, initial) for d in files) if f]


class ProductForm(forms.Form):
    title_en = forms.CharField(label=_("Title (English)"), max_length=160, required=False)
    title_zh = forms.CharField(label=_("Title (Chinese)"), max_length=160, required=False)
    brand = forms.CharField(label=_("Brand"), max_length=80, required=False)
    origin = forms.CharField(label=_("Origin"), max_length=80, required=False)
    category = forms.ModelChoiceField(label=_("Category"), queryset=Category.objects.order_by("position", "id"))
    description_md = forms.CharField(
        label=_("Description"),
        help_text=_("Markdown: **bold**, lists, links."),
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=20_000,
        required=False,
    )
    images = MultipleImageField(
        label=_("Add images"), help_text=_("JPEG, PNG, WebP or GIF; up to 9 per product."), required=False
    )
    remove_images = forms.TypedMultipleChoiceField(
        label=_("Remove images"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, images: Iterable[ProductImage] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if images is None:
            del self.fields["remove_images"]
        else:
            self.fields["remove_images"].choices = [(image.pk, str(image.pk)) for image in images]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("title_en") and not data.get("title_zh") and "title_en" not in self.errors:
            self.add_error("title_en", _("Give the product a title in at least one language."))
        return data


class SkuRowForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=64, required=False, help_text=_("Left empty, one is made for you.")
    )
    size = forms.CharField(label=_("Size"), max_length=60, required=False)
    colour = forms.CharField(label=_("Colour"), max_length=60, required=False)
    price = forms.CharField(
        label=_("Price"), max_length=16, required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    stock = forms.IntegerField(label=_("Stock"), min_value=0, max_value=MAX_STOCK, required=False)
    max_per_user = forms.IntegerField(
        label=_("Limit per buyer"), min_value=0, max_value=100_000, required=False, help_text=_("0 means no limit.")
    )

    def __init__(self, *args: Any, currency: str = "CNY", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.currency = currency
        self.fields["price"].label = _("Price (%(currency)s)") % {"currency": currency}
        if self.initial.get("code"):
            # An existing variant is known by its code; changing it would be a different variant.
            self.fields["code"].disabled = True
            self.fields["code"].help_text = ""

    def clean_price(self) -> int | None:
        text = self.cleaned_data.get("price") or ""
        if not text.strip():
            return None
        return major_to_minor(text, currency=self.currency)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "price" not in self.errors and data.get("price") is None:
            self.add_error("price", _("Enter a price."))
        return data


class SkuFormSet(BaseFormSet):  # type: ignore[type-arg]
    def add_fields(self, form: Any, index: int | None) -> None:
        super().add_fields(form, index)
        if "DELETE" in form.fields:
            form.fields["DELETE"].label = _("Withdraw this variant")


def sku_formset(
    *, data: Mapping[str, Any] | None = None, initial: list[dict[str, Any]] | None = None, currency: str
) -> BaseFormSet[SkuRowForm]:
    """Existing variants first, then empty rows up to three; an empty row is skipped."""
    rows = len(initial or [])
    most = max(CONSOLE_SKU_ROWS, rows)
    formset_class = formset_factory(
        SkuRowForm,
        formset=SkuFormSet,
        extra=max(0, CONSOLE_SKU_ROWS - rows),
        max_num=most,
        absolute_max=most,
        validate_max=True,
        can_delete=True,
        can_delete_extra=False,
    )
    return formset_class(data=data, initial=initial, prefix="sku", form_kwargs={"currency": currency})


def sku_specs_from_formset(
    formset: BaseFormSet[SkuRowForm], *, known_options: Mapping[str, Mapping[str, str]], taken_codes: set[str]
) -> list[tuple[int, dict[str, Any]]]:
    """(row index, variant for the services) for each filled row that is not marked for removal.

    Options other than size and colour (set through the API) are kept as they were.
    """
    used = set(taken_codes) | {
        str(form.cleaned_data.get("code")) for form in formset.forms if getattr(form, "cleaned_data", None)
    }
    specs: list[tuple[int, dict[str, Any]]] = []
    for index, form in enumerate(formset.forms):
        data = getattr(form, "cleaned_data", None)
        if not data or data.get("DELETE") or data.get("price") is None:
            continue
        code = (data.get("code") or "").strip()
        if not code:
            number = index + 1
            while f"V{number}" in used:
                number += 1
            code = f"V{number}"
            used.add(code)
        options = dict(known_options.get(code, {}))
        for name in ("size", "colour"):
            value = (data.get(name) or "").strip()
            if value:
                options[name] = value
            else:
                options.pop(name, None)
        specs.append(
            (
                index,
                {
                    "code": code,
                    "options": options,
                    "price_amount": data["price"],
                    "stock": data.get("stock") or 0,
                    "max_per_user": data.get("max_per_user") or 0,
                },
            )
        )
    return specs


def _row(
    *, code: str, options: Mapping[str, Any], price: int | None, stock: int, limit: int, currency: str
) -> dict[str, Any]:
    return {
        "code": code,
        "size": options.get("size", ""),
        "colour": options.get("colour", ""),
        "price": minor_to_major(price, currency=currency) if price is not None else "",
        "stock": stock,
        "max_per_user": limit,
    }


def edit_initial(
    product: Product, pending: Mapping[str, Any] | None
) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, dict[str, str]]]:
    """(product fields, variant rows, options by code) as the merchant last proposed them: the listed
    version overlaid with a pending revision, so saving the form again does not drop the proposal."""
    pending = pending or {}
    fields: dict[str, Any] = {name: pending.get(name, getattr(product, name)) for name in CONTENT_FIELDS}
    fields["category"] = pending.get("category_id", product.category_id)
    skus: list[Sku] = list(product.skus.all())
    options: dict[str, dict[str, str]] = {sku.code: dict(sku.options) for sku in skus}
    rows: dict[str, dict[str, Any]] = {
        sku.code: _row(
            code=sku.code,
            options=sku.options,
            price=sku.price_amount,
            stock=sku.stock,
            limit=sku.max_per_user,
            currency=product.currency,
        )
        for sku in skus
        if sku.is_active
    }
    current = {sku.code: sku for sku in skus}
    for entry in pending.get("skus", []):
        code = str(entry.get("code", ""))
        if entry.get("is_active") is False:
            rows.pop(code, None)
            continue
        base = current.get(code)
        if "options" in entry:
            options[code] = dict(entry["options"])
        rows[code] = _row(
            code=code,
            options=options.get(code, {}),
            price=entry.get("price_amount", base.price_amount if base else None),
            stock=base.stock if base else int(entry.get("stock", 0)),
            limit=int(entry.get("max_per_user", base.max_per_user if base else 0)),
            currency=product.currency,
        )
    return fields, list(rows.values()), options


class StockForm(forms.Form):
    stock = forms.IntegerField(label=_("Stock"), min_value=0, max_value=MAX_STOCK)
