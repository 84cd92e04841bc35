"""Shared helpers for the commission tests (no tests here): a merchant's product with a commission
rate, shops that carry it, clicks through real share links, paid checkouts, delivery, refunds and
balances read from the ledger."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from grassroots.accounts.models import User
from grassroots.accounts.tests.factories import UserFactory
from grassroots.attribution.models import Click
from grassroots.attribution.services import click_record, share_link_for
from grassroots.catalog.models import Product, Sku
from grassroots.catalog.tests.factories import ProductFactory, SkuFactory
from grassroots.commissions.selectors import shopkeeper_balances
from grassroots.ledger.selectors import account_balance, ledger_problems
from grassroots.merchants.models import Merchant
from grassroots.merchants.tests.factories import MerchantFactory
from grassroots.orders import services as orders
from grassroots.orders.models import Checkout, Order, ReturnRequest
from grassroots.orders.tests.factories import AddressFactory, ShippingRuleFactory
from grassroots.payments.gateways import CARD_SUCCEEDS
from grassroots.payments.services import payment_intent_confirm, payment_intent_create
from grassroots.shops.models import CommissionRate, Shop, ShopItem

BROWSER_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1"
BUYER_DEVICE = "buyer-device-00000000001"
CURRENCY = "CNY"


def product_with_rate(
    *, merchant: Merchant | None = None, price: int = 10000, rate_bps: int = 1000, since_days: float = 30
) -> tuple[Product, Sku]:
    """A listed product with one SKU and a commission rate in effect since `since_days` ago."""
    product = ProductFactory(merchant=merchant) if merchant else ProductFactory()
    sku = SkuFactory(product=product, price_amount=price, stock=1000)
    CommissionRate.objects.create(
        product=product, rate_bps=rate_bps, effective_from=timezone.now() - timedelta(days=since_days)
    )
    return product, sku


def shop_of(owner: User | None = None, *products: Product) -> Shop:
    """An active shop (of `owner`, or a new user) carrying `products`."""
    owner = owner or UserFactory()
    shop = Shop.objects.create(
        owner=owner, slug=f"shop-{owner.pk}", name=f"Shop of {owner.pk}", terms_accepted_at=timezone.now()
    )
    for product in products:
        add_to_shop(shop, product)
    return shop


def add_to_shop(shop: Shop, product: Product) -> ShopItem:
    item = ShopItem.objects.create(shop=shop, product=product)
    Shop.objects.filter(pk=shop.pk).update(item_count=shop.items.count())
    return item


def click(
    shop: Shop,
    *,
    product: Product | None = None,
    ago: timedelta = timedelta(hours=1),
    device: str = BUYER_DEVICE,
    user: Any = None,
    ip: str = "198.51.100.7",
) -> Click:
    """A visit through the shop's (or the shop's product) share link, `ago` before now."""
    link = share_link_for(shop=shop, product=product)
    _link, recorded = click_record(
        code=link.code, visitor_key=device, user=user, ip=ip, user_agent=BROWSER_UA, at=timezone.now() - ago
    )
    return recorded


def buyer_with_address(**address: Any) -> User:
    buyer = UserFactory()
    AddressFactory(owner=buyer, **address)
    return buyer


def place(
    buyer: User,
    lines: Sequence[tuple[Sku, int]],
    *,
    device: str | None = BUYER_DEVICE,
    now: datetime | None = None,
    coupon_code: str | None = None,
) -> Checkout:
    return orders.checkout_place(
        buyer=buyer,
        address_id=buyer.addresses.get(is_default=True).pk,
        items=[(sku.pk, quantity) for sku, quantity in lines],
        visitor_key=device,
        coupon_code=coupon_code,
        now=now,
    )


def pay(buyer: User, checkout: Checkout, capture: Any) -> None:
    """Pay with the simulated gateway's test card; its webhook runs on commit."""
    intent, _created = payment_intent_create(payer=buyer, kind="checkout", payable_id=checkout.pk)
    with capture(execute=True):
        payment_intent_confirm(payer=buyer, intent_id=intent.pk, card_number=CARD_SUCCEEDS)
    checkout.refresh_from_db()
    assert checkout.status == Checkout.Status.PAID


def buy(buyer: User, lines: Sequence[tuple[Sku, int]], capture: Any, *, device: str | None = BUYER_DEVICE) -> Order:
    """Place and pay a checkout of one merchant's goods; returns its order."""
    checkout = place(buyer, lines, device=device)
    pay(buyer, checkout, capture)
    return Order.objects.get(checkout=checkout)


def deliver(order: Order, *, days_ago: float = 0) -> Order:
    owner = order.merchant.memberships.get().user
    orders.order_ship(actor=owner, order=order, carrier="SF Express", tracking_number="SF1234567")
    orders.order_confirm_receipt(buyer=order.buyer, order=order)
    if days_ago:
        Order.objects.filter(pk=order.pk).update(delivered_at=timezone.now() - timedelta(days=days_ago))
    order.refresh_from_db()
    return order


def refund_before_shipping(order: Order, lines: Sequence[tuple[int, int]]) -> ReturnRequest:
    """A refund-only request (auto-approved and refunded at once) for [(order line id, quantity)]."""
    return orders.return_request_create(buyer=order.buyer, order_id=order.pk, kind="refund_only", lines=list(lines))


def return_after_delivery(order: Order, lines: Sequence[tuple[int, int]]) -> ReturnRequest:
    """The buyer returns goods within the window and the merchant receives them (refund follows)."""
    owner = order.merchant.memberships.get().user
    request = orders.return_request_create(buyer=order.buyer, order_id=order.pk, kind="return", lines=list(lines))
    orders.return_approve(actor=owner, return_id=request.pk)
    return orders.return_receive(actor=owner, return_id=request.pk)


def balances(user: User) -> dict[str, int]:
    return shopkeeper_balances(user_id=user.pk)


def payable(merchant_id: int) -> int:
    return -account_balance(code=f"merchant:{merchant_id}:payable", currency=CURRENCY)


def revenue() -> int:
    return -account_balance(code="platform:revenue", currency=CURRENCY)


def books_balance() -> None:
    assert ledger_problems() == []


def no_shipping(merchant: Merchant) -> None:
    ShippingRuleFactory(merchant=merchant, flat_fee=0)


def merchant() -> Merchant:
    return MerchantFactory()
