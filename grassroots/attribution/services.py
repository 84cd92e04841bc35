"""Share links, click logging, customer binding and the attribution rule.

Clicks
------
- An unknown or malformed code is NotFound and writes nothing; so is a link of a suspended shop.
- Bots (see bots.py) are logged with is_bot=True; they never count and never attribute.
- De-duplication: a click by the same visitor (device key or signed-in user) on the same link
  within DUPLICATE_WINDOW of that visitor's last *counted* click is stored with is_duplicate=True
  and does not raise click_count. It still attributes: last-click attribution uses the time of the
  latest non-bot click, duplicate or not, because the visitor really came back through the link
  then. Only the counting is de-duplicated.

Attribution (attribution_resolve / attribution_resolve_many), per product, first match wins:
1. "self_purchase": the buyer owns an active shop that carries the product. Nobody earns
   commission; the buyer gets the member price, member_price_discount_bps = the rate in effect
   now. It beats clicks on other shops so two shopkeepers cannot earn on each other's purchases.
2. "binding": CUSTOMER_BINDING_DAYS > 0 and the buyer has an active binding to an active shop
   that carries the product.
3. "last_click": the latest non-bot click by this buyer (user) or this device (visitor_key)
   within ATTRIBUTION_WINDOW_DAYS before `at`, on any link (shop or product) of an active shop
   that carries the product at `at`.
4. "expired": such clicks exist, but only before the window. 5. "none".
The rate is the product's commission rate in effect at the credited click (shops.selectors), so a
cut announced during its notice period never reaches a click made before it takes effect. A
binding with no click in the window uses the rate at `at`.

Self-referral: the credit stands but is held_for_review when the credited click's device key
(or the buyer's current one) was ever used by the shopkeeper's own account, or the click's IP
hash appears among the shopkeeper's own clicks in the last SELF_REFERRAL_IP_DAYS days.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from django.db import IntegrityError, transaction
from django.db.models import F, OuterRef, Q
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from grassroots.attribution.bots import is_bot_user_agent
from grassroots.attribution.conf import attribution_setting
from grassroots.attribution.models import (
    CODE_LENGTH,
    CODE_RE,
    USER_AGENT_MAX_LENGTH,
    Click,
    CustomerBinding,
    Fingerprint,
    ShareLink,
)
from grassroots.core.errors import Conflict, NotFound, ServiceError, ValidationFailed
from grassroots.shops.models import Shop, ShopItem
from grassroots.shops.selectors import commission_rate_annotation, commission_rates_at

CODE_ALPHABET = string.ascii_letters + string.digits
VISITOR_KEY_RE = re.compile(r"[A-Za-z0-9_-]{16,64}")
DUPLICATE_WINDOW = timedelta(minutes=30)
SELF_REFERRAL_IP_DAYS = 30

Rule = Literal["last_click", "binding", "self_purchase", "none", "expired"]


# --- keys and hashes ----------------------------------------------------------------------


def new_share_code() -> str:
    """8 base62 characters from the OS CSPRNG: 62**8 ≈ 2.2e14 codes, not guessable or enumerable."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_visitor_key() -> str:
    return secrets.token_urlsafe(18)


def visitor_key_clean(value: str | None) -> str:
    """The cookie value if it looks like one we issued, else "" (the caller then issues a new one)."""
    return value if value and VISITOR_KEY_RE.fullmatch(value) else ""


def ip_hash(ip: str | None) -> str:
    """HMAC-SHA256 of the address keyed with SECRET_KEY: comparable, never reversible to the IP."""
    return salted_hmac("grassroots.attribution.ip", ip, algorithm="sha256").hexdigest() if ip else ""


def _fingerprint_digest(kind: str, value: str) -> str:
    normalised = " ".join(value.split()).casefold()
    return salted_hmac(f"grassroots.attribution.fingerprint.{kind}", normalised, algorithm="sha256").hexdigest()


def _user_id(user: Any) -> int | None:
    return user.pk if getattr(user, "is_authenticated", False) else None


# --- share links --------------------------------------------------------------------------


@transaction.atomic
def share_link_for(*, shop: Shop, product: Any = None) -> ShareLink:
    """The shop's link, or its link for one of its own items (product); created on first use.

    Idempotent: the same shop and product always give the same link. A product the shop does not
    carry is NotFound; a suspended shop cannot mint links (Conflict).
    """
    if shop.status == Shop.Status.SUSPENDED:
        raise Conflict(_("This shop is suspended."), code="shop_suspended")
    product_id = getattr(product, "pk", product)
    if product_id is not None and not ShopItem.objects.filter(shop=shop, product_id=product_id).exists():
        raise NotFound(_("This product is not in the shop."))
    kind = ShareLink.Kind.PRODUCT if product_id is not None else ShareLink.Kind.SHOP
    existing = ShareLink.objects.filter(shop=shop, kind=kind, product_id=product_id).first()
    if existing is not None:
        return existing
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return ShareLink.objects.create(code=new_share_code(), shop=shop, product_id=product_id, kind=kind)
        except IntegrityError:
            # Either a concurrent request minted this link first, or (rarely) the code collided.
            existing = ShareLink.objects.filter(shop=shop, kind=kind, product_id=product_id).first()
            if existing is not None:
                return existing
    raise ServiceError(_("Could not create the link; please try again."), code="link_failed", status=503)


@transaction.atomic
def share_link_for_note(*, shop: Shop, note_id: int, product_id: int | None = None) -> ShareLink:
    """The shop's link for a note (leads to the note page), or with `product_id` for one of the
    note's product cards (leads to the product page); created on first use, idempotent.

    Clicks on it attribute to the shop like any of its links and, through the link, to the note.
    A product the shop does not carry is NotFound; a suspended shop cannot mint links (Conflict).
    """
    if shop.status == Shop.Status.SUSPENDED:
        raise Conflict(_("This shop is suspended."), code="shop_suspended")
    if product_id is not None and not ShopItem.objects.filter(shop=shop, product_id=product_id).exists():
        raise NotFound(_("This product is not in the shop."))
    lookup = {"shop": shop, "kind": ShareLink.Kind.NOTE, "note_id": note_id, "product_id": product_id}
    existing = ShareLink.objects.filter(**lookup).first()
    if existing is not None:
        return existing
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return ShareLink.objects.create(code=new_share_code(), **lookup)
        except IntegrityError:
            existing = ShareLink.objects.filter(**lookup).first()
            if existing is not None:
                return existing
    raise ServiceError(_("Could not create the link; please try again."), code="link_failed", status=503)


def share_links_for_shop(*, shop: Shop, product_ids: Iterable[int]) -> dict[int | None, ShareLink]:
    """The shop link (key None) and a link per given item product, minting those missing.

    One query once every link exists; minting the missing ones happens on the first visit only.
    """
    wanted: set[int | None] = {None, *product_ids}
    existing = ShareLink.objects.filter(shop=shop, kind__in=[ShareLink.Kind.SHOP, ShareLink.Kind.PRODUCT])
    links = {link.product_id: link for link in existing}
    missing = wanted - set(links)
    if missing:
        carried = set(
            ShopItem.objects.filter(shop=shop, product_id__in=[p for p in missing if p is not None]).values_list(
                "product_id", flat=True
            )
        )
        for product_id in sorted(missing, key=lambda p: -1 if p is None else p):
            if product_id is None or product_id in carried:
                links[product_id] = share_link_for(shop=shop, product=product_id)
    return {key: link for key, link in links.items() if key in wanted}


# --- clicks -------------------------------------------------------------------------------


def click_record(
    *, code: str, visitor_key: str, user: Any, ip: str | None, user_agent: str | None, at: datetime
) -> tuple[ShareLink, Click]:
    """Log one visit through /s/<code>/ and return the link (for the redirect) and the click."""
    if not isinstance(code, str) or not CODE_RE.fullmatch(code):
        raise NotFound(_("This link does not exist."))
    link = ShareLink.objects.select_related("shop", "product").filter(code=code).first()
    if link is None or link.shop.status == Shop.Status.SUSPENDED:
        raise NotFound(_("This link does not exist."))
    user_id = _user_id(user)
    key = visitor_key_clean(visitor_key)
    # PostgreSQL text cannot hold NUL; no real browser sends one.
    agent = (user_agent or "").replace("\x00", "")[:USER_AGENT_MAX_LENGTH]
    is_bot = is_bot_user_agent(agent)
    with transaction.atomic():
        is_duplicate = not is_bot and _seen_recently(link=link, visitor_key=key, user_id=user_id, at=at)
        click = Click.objects.create(
            link=link,
            shop=link.shop,
            product=link.product,
            visitor_key=key,
            user_id=user_id,
            ip_hash=ip_hash(ip),
            user_agent=agent,
            is_bot=is_bot,
            is_duplicate=is_duplicate,
            created_at=at,
        )
        if not is_bot and not is_duplicate:
            ShareLink.objects.filter(pk=link.pk).update(click_count=F("click_count") + 1)
            link.refresh_from_db(fields=["click_count"])
        if not is_bot and user_id is not None and link.shop.status == Shop.Status.ACTIVE:
            _bind(customer_id=user_id, shop=link.shop, click=click, at=at)
    return link, click


def _seen_recently(*, link: ShareLink, visitor_key: str, user_id: int | None, at: datetime) -> bool:
    who = Q()
    if visitor_key:
        who |= Q(visitor_key=visitor_key)
    if user_id is not None:
        who |= Q(user_id=user_id)
    if not who:
        return False
    return (
        Click.objects.filter(
            link=link, is_bot=False, is_duplicate=False, created_at__gt=at - DUPLICATE_WINDOW, created_at__lte=at
        )
        .filter(who)
        .exists()
    )


# --- customer binding ---------------------------------------------------------------------


def _bind(*, customer_id: int, shop: Shop, click: Click | None, at: datetime) -> CustomerBinding | None:
    """Bind the customer to the shop unless binding is off, they own it, or a binding is active."""
    days = attribution_setting("CUSTOMER_BINDING_DAYS")
    if days <= 0 or shop.owner_id == customer_id:
        return None
    values = {"shop": shop, "click": click, "bound_at": at, "bound_until": at + timedelta(days=days)}
    # Re-use an expired row with a conditional UPDATE, so two concurrent clicks cannot both rebind.
    if CustomerBinding.objects.filter(customer_id=customer_id, bound_until__lte=at).update(**values):
        return CustomerBinding.objects.get(customer_id=customer_id)
    try:
        with transaction.atomic():
            return CustomerBinding.objects.create(customer_id=customer_id, **values)
    except IntegrityError:
        return None  # an active binding exists: the first shop keeps the customer


@transaction.atomic
def binding_on_signup(*, user: Any, visitor_key: str | None, at: datetime | None = None) -> CustomerBinding | None:
    """Call right after a sign-up with the request's "gr_vid" cookie: binds the new member to the shop
    of the latest non-bot click from this device within the attribution window. None if binding is
    off or there is no such click."""
    user_id = _user_id(user)
    key = visitor_key_clean(visitor_key)
    if user_id is None or not key or attribution_setting("CUSTOMER_BINDING_DAYS") <= 0:
        return None
    at = at or timezone.now()
    since = at - timedelta(days=attribution_setting("ATTRIBUTION_WINDOW_DAYS"))
    click = (
        Click.objects.select_related("shop")
        .filter(
            visitor_key=key, is_bot=False, created_at__gte=since, created_at__lte=at, shop__status=Shop.Status.ACTIVE
        )
        .exclude(shop__owner_id=user_id)
        .order_by("-created_at", "-id")
        .first()
    )
    if click is None:
        return None
    return _bind(customer_id=user_id, shop=click.shop, click=click, at=at)


# --- self-referral signals ----------------------------------------------------------------


@transaction.atomic
def fingerprint_record(*, user: Any, kind: str, value: str, at: datetime | None = None) -> None:
    """Checkout calls this for every placed order: kind "address" with the normalised shipping
    address, kind "payment" with the gateway's instrument fingerprint. Only a keyed hash is kept."""
    user_id = _user_id(user)
    if user_id is None:
        raise ValidationFailed(_("A signed-in user is required."), fields={"user": "required"})
    if kind not in Fingerprint.Kind.values or not isinstance(value, str) or not value.strip():
        raise ValidationFailed(_("Unknown fingerprint."), fields={"kind": "invalid"})
    at = at or timezone.now()
    digest = _fingerprint_digest(kind, value)
    if Fingerprint.objects.filter(user_id=user_id, kind=kind, digest=digest).update(last_seen_at=at):
        return
    try:
        with transaction.atomic():
            Fingerprint.objects.create(user_id=user_id, kind=kind, digest=digest, last_seen_at=at)
    except IntegrityError:
        Fingerprint.objects.filter(user_id=user_id, kind=kind, digest=digest).update(last_seen_at=at)


def self_referral_signals(
    *,
    shopkeeper_id: int,
    buyer_id: int | None,
    visitor_key: str | None,
    address_fingerprint: str | None = None,
    payment_fingerprint: str | None = None,
    at: datetime | None = None,
) -> list[str]:
    """Why a sale credited to `shopkeeper_id` looks like the shopkeeper buying through a second
    account, as codes: "same_account", "shared_device" (the device key was used by the shopkeeper's
    account), "shared_ip" (the buyer's recent click IPs match the shopkeeper's), "shared_address",
    "shared_payment" (the values match ones the shopkeeper used, see fingerprint_record). Empty
    when nothing matches. Signals hold a commission for review; none of them proves fraud."""
    at = at or timezone.now()
    signals: list[str] = []
    if buyer_id is not None and buyer_id == shopkeeper_id:
        signals.append("same_account")
    key = visitor_key_clean(visitor_key)
    if key and Click.objects.filter(user_id=shopkeeper_id, visitor_key=key).exists():
        signals.append("shared_device")
    buyer = Q(visitor_key=key) if key else Q()
    if buyer_id is not None:
        buyer |= Q(user_id=buyer_id)
    if buyer:
        since = at - timedelta(days=SELF_REFERRAL_IP_DAYS)
        buyer_ips = (
            Click.objects.filter(buyer, created_at__gte=since, created_at__lte=at)
            .exclude(user_id=shopkeeper_id)
            .exclude(ip_hash="")
            .values("ip_hash")
        )
        if Click.objects.filter(
            user_id=shopkeeper_id, created_at__gte=since, created_at__lte=at, ip_hash__in=buyer_ips
        ).exists():
            signals.append("shared_ip")
    for kind, value in (
        (Fingerprint.Kind.ADDRESS, address_fingerprint),
        (Fingerprint.Kind.PAYMENT, payment_fingerprint),
    ):
        if value and value.strip():
            digest = _fingerprint_digest(kind, value)
            if Fingerprint.objects.filter(user_id=shopkeeper_id, kind=kind, digest=digest).exists():
                signals.append(f"shared_{kind}")
    return signals


# --- attribution --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attribution:
    """Who is credited for one product bought now, and at what rate (basis points)."""

    product_id: int
    rule: Rule
    shop_id: int | None = None
    shopkeeper_id: int | None = None
    click_id: int | None = None
    clicked_at: datetime | None = None
    rate_bps: int = 0
    # Only for "self_purchase": the discount the shop owner gets instead of a commission.
    member_price_discount_bps: int = 0
    held_for_review: bool = False
    # Machine-readable: signal codes when held, else why nobody or this rule was chosen.
    reason: str = ""

    @property
    def earns_commission(self) -> bool:
        return self.rule in ("last_click", "binding") and self.rate_bps > 0


@dataclass(frozen=True, slots=True)
class _Hit:
    click_id: int
    shop_id: int
    shopkeeper_id: int
    at: datetime
    visitor_key: str
    ip_hash: str
    rate_bps: int


@dataclass(frozen=True, slots=True)
class _Credit:
    rule: Rule
    shop_id: int
    shopkeeper_id: int
    hit: _Hit | None
    binding_click_id: int | None


def attribution_resolve(*, buyer: Any, visitor_key: str | None, product_id: int, at: datetime) -> Attribution:
    return attribution_resolve_many(buyer=buyer, visitor_key=visitor_key, product_ids=[product_id], at=at)[product_id]


def attribution_resolve_many(
    *, buyer: Any, visitor_key: str | None, product_ids: Iterable[int], at: datetime
) -> dict[int, Attribution]:
    """attribution_resolve for every product of a checkout: at most six queries, however many."""
    ids = sorted({int(pid) for pid in product_ids})
    if not ids:
        return {}
    buyer_id = _user_id(buyer)
    key = visitor_key_clean(visitor_key)
    window_start = at - timedelta(days=attribution_setting("ATTRIBUTION_WINDOW_DAYS"))
    active = Shop.Status.ACTIVE

    owned: dict[int, tuple[int, int]] = {}
    bound: dict[int, tuple[int, int, int | None]] = {}
    if buyer_id is not None:
        own_items = ShopItem.objects.filter(shop__owner_id=buyer_id, shop__status=active, product_id__in=ids)
        owned = {pid: (shop_id, buyer_id) for pid, shop_id in own_items.order_by().values_list("product_id", "shop_id")}
        if attribution_setting("CUSTOMER_BINDING_DAYS") > 0:
            bound_items = ShopItem.objects.filter(
                product_id__in=ids,
                shop__status=active,
                shop__bindings__customer_id=buyer_id,
                shop__bindings__bound_at__lte=at,
                shop__bindings__bound_until__gt=at,
            )
            bound = {
                pid: (shop_id, owner_id, click_id)
                for pid, shop_id, owner_id, click_id in bound_items.order_by().values_list(
                    "product_id", "shop_id", "shop__owner_id", "shop__bindings__click_id"
                )
            }

    who = Q(visitor_key=key) if key else Q()
    if buyer_id is not None:
        who |= Q(user_id=buyer_id)
    latest: dict[int, _Hit] = {}
    latest_in_bound_shop: dict[int, _Hit] = {}
    if who:
        rows = (
            Click.objects.filter(
                who,
                is_bot=False,
                created_at__gte=window_start,
                created_at__lte=at,
                shop__status=active,
                shop__items__product_id__in=ids,
            )
            # The rate in effect at each click, by shops' own rule, in the same query.
            .annotate(
                rate=commission_rate_annotation(
                    at=OuterRef("created_at"),  # type: ignore[arg-type]
                    product_field="shop__items__product_id",
                )
            )
            .order_by("-created_at", "-id")
            .values_list(
                "id",
                "shop_id",
                "shop__owner_id",
                "created_at",
                "visitor_key",
                "ip_hash",
                "shop__items__product_id",
                "rate",
            )
        )
        for click_id, shop_id, owner_id, created_at, click_key, click_ip, product_id, rate in rows:
            hit = _Hit(click_id, shop_id, owner_id, created_at, click_key, click_ip, int(rate))
            latest.setdefault(product_id, hit)
            if product_id in bound and bound[product_id][0] == shop_id:
                latest_in_bound_shop.setdefault(product_id, hit)

    undecided = [pid for pid in ids if pid not in owned and pid not in bound and pid not in latest]
    expired: set[int] = set()
    if who and undecided:
        expired = set(
            Click.objects.filter(
                who,
                is_bot=False,
                created_at__lt=window_start,
                shop__status=active,
                shop__items__product_id__in=undecided,
            )
            .order_by()
            .values_list("shop__items__product_id", flat=True)
            .distinct()
        )

    # Self-purchases and bindings without a click in the window take the rate in effect now.
    rates_now_for = [pid for pid in ids if pid in owned or (pid in bound and pid not in latest_in_bound_shop)]
    rates_now = commission_rates_at(product_ids=rates_now_for, at=at) if rates_now_for else {}

    credited: dict[int, _Credit] = {}
    for pid in ids:
        if pid in owned:
            continue
        if pid in bound:
            shop_id, owner_id, binding_click_id = bound[pid]
            credited[pid] = _Credit("binding", shop_id, owner_id, latest_in_bound_shop.get(pid), binding_click_id)
        elif pid in latest:
            hit = latest[pid]
            credited[pid] = _Credit("last_click", hit.shop_id, hit.shopkeeper_id, hit, hit.click_id)

    signals = _self_referral_batch(credited=credited, visitor_key=key, at=at)

    result: dict[int, Attribution] = {}
    for pid in ids:
        if pid in owned:
            shop_id, owner_id = owned[pid]
            result[pid] = Attribution(
                product_id=pid,
                rule="self_purchase",
                shop_id=shop_id,
                shopkeeper_id=owner_id,
                member_price_discount_bps=rates_now.get(pid, 0),
                reason="buyer_owns_shop",
            )
        elif pid in credited:
            credit = credited[pid]
            held = signals.get(pid, [])
            result[pid] = Attribution(
                product_id=pid,
                rule=credit.rule,
                shop_id=credit.shop_id,
                shopkeeper_id=credit.shopkeeper_id,
                click_id=credit.hit.click_id if credit.hit else credit.binding_click_id,
                clicked_at=credit.hit.at if credit.hit else None,
                rate_bps=credit.hit.rate_bps if credit.hit else rates_now.get(pid, 0),
                held_for_review=bool(held),
                reason=",".join(held),
            )
        elif pid in expired:
            result[pid] = Attribution(product_id=pid, rule="expired", reason="click_outside_window")
        else:
            result[pid] = Attribution(product_id=pid, rule="none", reason="no_click")
    return result


def _self_referral_batch(*, credited: dict[int, _Credit], visitor_key: str, at: datetime) -> dict[int, list[str]]:
    """shared_device / shared_ip for every credited product in one query (see module docstring)."""
    if not credited:
        return {}
    shopkeepers = {credit.shopkeeper_id for credit in credited.values()}
    hits = [credit.hit for credit in credited.values() if credit.hit is not None]
    keys = ({visitor_key} | {hit.visitor_key for hit in hits}) - {""}
    ips = {hit.ip_hash for hit in hits} - {""}
    since = at - timedelta(days=SELF_REFERRAL_IP_DAYS)
    condition = Q(visitor_key__in=keys) if keys else Q(pk__in=[])
    if ips:
        condition |= Q(ip_hash__in=ips, created_at__gte=since, created_at__lte=at)
    devices: set[tuple[int | None, str]] = set()
    networks: set[tuple[int | None, str]] = set()
    rows = (
        Click.objects.filter(condition, user_id__in=shopkeepers)
        .order_by()
        .values_list("user_id", "visitor_key", "ip_hash", "created_at")
    )
    for user_id, click_key, click_ip, created_at in rows:
        devices.add((user_id, click_key))
        if since <= created_at <= at:
            networks.add((user_id, click_ip))
    signals: dict[int, list[str]] = {}
    for pid, credit in credited.items():
        found: list[str] = []
        candidate_keys = {visitor_key, credit.hit.visitor_key if credit.hit else ""} - {""}
        if any((credit.shopkeeper_id, candidate) in devices for candidate in candidate_keys):
            found.append("shared_device")
        if credit.hit and credit.hit.ip_hash and (credit.shopkeeper_id, credit.hit.ip_hash) in networks:
            found.append("shared_ip")
        if found:
            signals[pid] = found
    return signals
