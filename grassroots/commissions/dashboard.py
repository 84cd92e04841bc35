"""The shopkeeper's dashboard: clicks, visitors, orders, conversion, GMV and commission, per day and
per product, and a server-rendered SVG chart of them (no JavaScript, no CDN).

Every figure comes from an aggregate: the dashboard costs the same nine queries or fewer whatever
the number of clicks, orders or products.

Definitions (all over the window: the last `days` local calendar days up to `now`):
- clicks: share-link visits that were neither bots nor duplicates;
- unique visitors: distinct visitor keys among those clicks;
- orders: distinct orders paid in the window with at least one line attributed to the shop by a
  click or a customer binding (OrderLine.attributed_shop; self purchases excluded). A later refund
  does not remove the order; it lowers GMV;
- conversion: orders / unique visitors;
- GMV: what buyers paid for the attributed lines minus what was refunded on them;
- commission earned: the direct commission on those lines minus what refunds reversed (lines an
  operator rejected as self-referral earn nothing);
- pending / held / available / withdrawing / withdrawn / receivable: the shopkeeper's ledger
  accounts now (not limited to the window); withdrawn is everything ever paid out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, F, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from grassroots.attribution.models import Click
from grassroots.catalog.models import Product
from grassroots.commissions.models import CommissionLine
from grassroots.commissions.selectors import shopkeeper_account
from grassroots.commissions.services import EARNING_RULES
from grassroots.commissions.withdrawals import KIND_PAID
from grassroots.core.conf import gr_setting
from grassroots.core.errors import ValidationFailed
from grassroots.core.money import format_minor
from grassroots.ledger.models import Posting
from grassroots.notes.selectors import NoteCommissionRow, notes_commission_by_note
from grassroots.orders.models import OrderLine
from grassroots.shops.models import Shop
from grassroots.shops.selectors import shop_for_user

MAX_DAYS = 366
DEFAULT_DAYS = 30
DAY_CHOICES = (7, 30, 90)


@dataclass(frozen=True, slots=True)
class DayPoint:
    day: date
    clicks: int
    orders: int
    gmv: int
    commission: int


@dataclass(frozen=True, slots=True)
class ProductRow:
    product_id: int
    title: str
    slug: str
    clicks: int
    orders: int
    units: int
    gmv: int
    commission: int


@dataclass(frozen=True, slots=True)
class Balances:
    """The shopkeeper's ledger accounts, each on its normal side (positive: in their favour, except
    receivable, which is what they owe)."""

    pending: int = 0
    held: int = 0
    available: int = 0
    withdrawing: int = 0
    withdrawn: int = 0
    receivable: int = 0


@dataclass(frozen=True, slots=True)
class Dashboard:
    shop: Shop | None
    currency: str
    days: int
    since: datetime
    until: datetime
    clicks: int
    unique_visitors: int
    orders: int
    gmv: int
    refunded: int
    commission_earned: int
    balances: Balances
    products: list[ProductRow]
    series: list[DayPoint]

    @property
    def notes(self) -> list[NoteCommissionRow]:
        """Commission per note of the shopkeeper (sales through a note's links) in the window; one
        query, run only where it is shown."""
        if self.shop is None:
            return []
        return notes_commission_by_note(shopkeeper=self.shop.owner_id, since=self.since)

    @property
    def conversion(self) -> float | None:
        """Orders per unique visitor; None when nobody visited."""
        if not self.unique_visitors:
            return None
        return self.orders / self.unique_visitors


def clean_days(value: Any, *, default: int = DEFAULT_DAYS) -> int:
    """`days` from a query string: 1 to 366; empty means the default."""
    if value is None or value == "":
        return default
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            _("days must be a whole number from 1 to %(max)s.") % {"max": MAX_DAYS},
            code="invalid_days",
            fields={"days": "out_of_range"},
        )
    return days


def _window(days: int, now: datetime) -> tuple[datetime, list[date]]:
    tz = timezone.get_current_timezone()
    today = timezone.localdate(now, tz)
    first = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, time.min), tz)
    return since, [first + timedelta(days=i) for i in range(days)]


def _balances(user_id: int, currency: str) -> Balances:
    codes = {part: shopkeeper_account(user_id, part) for part in ("pending", "held", "available", "withdrawing")}
    codes["receivable"] = shopkeeper_account(user_id, "receivable")
    sums = Posting.objects.filter(account__code__in=codes.values(), account__currency=currency).aggregate(
        **{part: Coalesce(Sum("amount", filter=Q(account__code=code)), 0) for part, code in codes.items()},
        withdrawn=Coalesce(Sum("amount", filter=Q(account__code=codes["withdrawing"], entry__kind=KIND_PAID)), 0),
    )
    return Balances(
        pending=-int(sums["pending"]),
        held=-int(sums["held"]),
        available=-int(sums["available"]),
        withdrawing=-int(sums["withdrawing"]),
        withdrawn=int(sums["withdrawn"]),
        receivable=int(sums["receivable"]),
    )


def shopkeeper_dashboard(*, user: Any, days: int = DEFAULT_DAYS, now: datetime | None = None) -> Dashboard:
    """The dashboard of `user`'s shop over the last `days` days. For a member without a shop the
    shop is None and only the balances are filled in."""
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            _("days must be a whole number from 1 to %(max)s.") % {"max": MAX_DAYS},
            code="invalid_days",
            fields={"days": "out_of_range"},
        )
    now = now or timezone.now()
    currency = str(gr_setting("CURRENCY"))
    since, dates = _window(days, now)
    signed_in = bool(getattr(user, "is_authenticated", False))
    shop = shop_for_user(user=user)
    balances = _balances(user.pk, currency) if signed_in else Balances()
    if shop is None:
        return Dashboard(
            shop=None,
            currency=currency,
            days=days,
            since=since,
            until=now,
            clicks=0,
            unique_visitors=0,
            orders=0,
            gmv=0,
            refunded=0,
            commission_earned=0,
            balances=balances,
            products=[],
            series=[DayPoint(day=d, clicks=0, orders=0, gmv=0, commission=0) for d in dates],
        )

    tz = timezone.get_current_timezone()
    clicks = Click.objects.filter(
        shop=shop, created_at__gte=since, created_at__lte=now, is_bot=False, is_duplicate=False
    )
    click_totals = clicks.aggregate(
        clicks=Count("id"), visitors=Count("visitor_key", distinct=True, filter=~Q(visitor_key=""))
    )
    clicks_by_day = {
        row["day"]: row["n"]
        for row in clicks.annotate(day=TruncDate("created_at", tzinfo=tz))
        .values("day")
        .annotate(n=Count("id"))
        .order_by()
    }
    clicks_by_product = {
        row["product_id"]: row["n"]
        for row in clicks.filter(product__isnull=False).values("product_id").annotate(n=Count("id")).order_by()
    }

    lines = OrderLine.objects.filter(
        attributed_shop=shop,
        attribution_rule__in=EARNING_RULES,
        order__currency=currency,
        order__paid_at__gte=since,
        order__paid_at__lte=now,
    )
    gmv = Sum(F("paid_amount") - F("refunded_amount"))
    # Lines at a 0% rate have no CommissionLine: NULL, which Sum skips.
    commission = Sum(
        F("commission__commission_amount") - F("commission__commission_reversed"),
        filter=~Q(commission__status=CommissionLine.Status.REJECTED),
    )
    line_totals = lines.aggregate(
        orders=Count("order_id", distinct=True),
        gmv=Coalesce(gmv, 0),
        refunded=Coalesce(Sum("refunded_amount"), 0),
        earned=Coalesce(commission, 0),
    )
    lines_by_day = {
        row["day"]: row
        for row in lines.annotate(day=TruncDate("order__paid_at", tzinfo=tz))
        .values("day")
        .annotate(orders=Count("order_id", distinct=True), gmv=Coalesce(gmv, 0), earned=Coalesce(commission, 0))
        .order_by()
    }
    lines_by_product = {
        row["product_id"]: row
        for row in lines.values("product_id")
        .annotate(
            orders=Count("order_id", distinct=True),
            units=Coalesce(Sum(F("quantity") - F("refunded_quantity")), 0),
            gmv=Coalesce(gmv, 0),
            earned=Coalesce(commission, 0),
        )
        .order_by()
    }
    product_ids = set(clicks_by_product) | set(lines_by_product)
    products = {p.pk: p for p in Product.objects.filter(pk__in=product_ids).only("id", "slug", "title_en", "title_zh")}

    rows = []
    for product_id in product_ids:
        product = products.get(product_id)
        sold: dict[str, Any] = dict(lines_by_product.get(product_id, {}))
        rows.append(
            ProductRow(
                product_id=product_id,
                title=product.title if product is not None else "",
                slug=product.slug if product is not None else "",
                clicks=clicks_by_product.get(product_id, 0),
                orders=int(sold.get("orders", 0)),
                units=int(sold.get("units", 0)),
                gmv=int(sold.get("gmv", 0)),
                commission=int(sold.get("earned", 0)),
            )
        )
    rows.sort(key=lambda r: (-r.gmv, -r.orders, -r.clicks, r.product_id))

    series = []
    for d in dates:
        day_sold: dict[str, Any] = dict(lines_by_day.get(d, {}))
        series.append(
            DayPoint(
                day=d,
                clicks=clicks_by_day.get(d, 0),
                orders=int(day_sold.get("orders", 0)),
                gmv=int(day_sold.get("gmv", 0)),
                commission=int(day_sold.get("earned", 0)),
            )
        )
    return Dashboard(
        shop=shop,
        currency=currency,
        days=days,
        since=since,
        until=now,
        clicks=int(click_totals["clicks"]),
        unique_visitors=int(click_totals["visitors"]),
        orders=int(line_totals["orders"]),
        gmv=int(line_totals["gmv"]),
        refunded=int(line_totals["refunded"]),
        commission_earned=int(line_totals["earned"]),
        balances=balances,
        products=rows,
        series=series,
    )


# --- the chart --------------------------------------------------------------------------------

WIDTH, HEIGHT = 720, 280
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 34, 48
TICKS = 5  # intervals: a 1, 2, 2.5 or 5 x 10^k top splits into round steps
GMV_COLOUR = "#9ec5a0"
COMMISSION_COLOUR = "#c0392b"
AXIS_COLOUR = "#666666"
GRID_COLOUR = "#e5e5e5"


def nice_ceiling(value: int) -> int:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above `value` (at least 1), for round axis ticks."""
    if value <= 1:
        return 1
    magnitude = 1
    while magnitude * 10 < value:
        magnitude *= 10
    for step in (1, 2, 2.5, 5, 10):
        candidate = int(step * magnitude)
        if candidate >= value:
            return candidate
    return magnitude * 10


def _fmt(number: float) -> str:
    text = f"{number:.1f}"
    return text[:-2] if text.endswith(".0") else text


def chart_points(series: list[DayPoint]) -> dict[str, Any]:
    """Geometry of the chart: the y scale, and per day the bar (GMV) and the line point
    (commission) in SVG coordinates. Separate from the markup so tests can check the numbers."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    # At least 100 minor units, so the five tick labels of an empty chart are distinct.
    top = nice_ceiling(max([p.gmv for p in series] + [p.commission for p in series] + [100]))
    slot = plot_w / max(len(series), 1)
    bar_w = max(slot * 0.6, 1.0)

    def y(value: int) -> float:
        return TOP + plot_h - (value / top) * plot_h

    days = []
    for i, point in enumerate(series):
        centre = LEFT + slot * i + slot / 2
        days.append(
            {
                "point": point,
                "x": centre,
                "bar_x": centre - bar_w / 2,
                "bar_y": y(point.gmv),
                "bar_h": (point.gmv / top) * plot_h,
                "line_y": y(point.commission),
            }
        )
    return {"top": top, "bar_w": bar_w, "days": days, "y": y, "plot_w": plot_w, "plot_h": plot_h}


def dashboard_chart_svg(*, series: list[DayPoint], currency: str, id_prefix: str = "earnings-chart") -> SafeString:
    """A bar (GMV) and line (commission) chart of the daily series as inline SVG. Accessible: a
    <title> and <desc>, labelled axes, a <title> on every bar and point; the page shows the same
    numbers in a table. Every piece of text is escaped."""
    geometry = chart_points(series)
    top: int = geometry["top"]
    y = geometry["y"]
    plot_w, plot_h = geometry["plot_w"], geometry["plot_h"]
    title = _("Daily GMV and commission, last %(days)s days") % {"days": len(series)}
    desc = _(
        "Bars show GMV per day, the line shows commission per day, in %(currency)s. The same numbers are in the table below."
    ) % {"currency": currency}
    t, d = f"{id_prefix}-title", f"{id_prefix}-desc"
    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-labelledby="{escape(t)} {escape(d)}" class="chart" font-family="sans-serif" font-size="11">',
        f'<title id="{escape(t)}">{escape(title)}</title>',
        f'<desc id="{escape(d)}">{escape(desc)}</desc>',
    ]
    # Horizontal grid and y tick labels (money).
    out.append('<g class="y-axis">')
    for i in range(TICKS + 1):
        value = top * i // TICKS
        ty = _fmt(y(value))
        out.append(f'<line x1="{LEFT}" y1="{ty}" x2="{LEFT + plot_w}" y2="{ty}" stroke="{GRID_COLOUR}"/>')
        out.append(
            f'<text x="{LEFT - 6}" y="{ty}" text-anchor="end" dominant-baseline="middle" fill="{AXIS_COLOUR}">'
            f"{escape(format_minor(value, currency))}</text>"
        )
    out.append("</g>")
    axis_y = _fmt(TOP + plot_h)
    out.append(f'<line x1="{LEFT}" y1="{axis_y}" x2="{LEFT + plot_w}" y2="{axis_y}" stroke="{AXIS_COLOUR}"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{axis_y}" stroke="{AXIS_COLOUR}"/>')
    out.append(
        f'<text x="14" y="{_fmt(TOP + plot_h / 2)}" text-anchor="middle" fill="{AXIS_COLOUR}" '
        f'transform="rotate(-90 14 {_fmt(TOP + plot_h / 2)})">{escape(_("Amount (%(currency)s)") % {"currency": currency})}</text>'
    )
    out.append(
        f'<text x="{_fmt(LEFT + plot_w / 2)}" y="{HEIGHT - 6}" text-anchor="middle" fill="{AXIS_COLOUR}">'
        f"{escape(_('Day'))}</text>"
    )
    # x labels: about eight, always the first and the last day.
    days = geometry["days"]
    step = max(len(days) // 8, 1)
    out.append('<g class="x-axis">')
    for i, day in enumerate(days):
        if i % step == 0 or i == len(days) - 1:
            out.append(
                f'<text x="{_fmt(day["x"])}" y="{_fmt(TOP + plot_h + 16)}" text-anchor="middle" fill="{AXIS_COLOUR}">'
                f"{escape(date_format(day['point'].day, 'n/j'))}</text>"
            )
    out.append("</g>")
    out.append(f'<g class="gmv" fill="{GMV_COLOUR}">')
    for day in days:
        point: DayPoint = day["point"]
        label = _("%(day)s: GMV %(gmv)s") % {
            "day": point.day.isoformat(),
            "gmv": format_minor(point.gmv, currency),
        }
        out.append(
            f'<rect x="{_fmt(day["bar_x"])}" y="{_fmt(day["bar_y"])}" width="{_fmt(geometry["bar_w"])}" '
            f'height="{_fmt(day["bar_h"])}" data-day="{point.day.isoformat()}" data-value="{point.gmv}">'
            f"<title>{escape(label)}</title></rect>"
        )
    out.append("</g>")
    points = " ".join(f"{_fmt(day['x'])},{_fmt(day['line_y'])}" for day in days)
    out.append(
        f'<polyline class="commission" points="{points}" fill="none" stroke="{COMMISSION_COLOUR}" stroke-width="2"/>'
    )
    out.append(f'<g class="commission-points" fill="{COMMISSION_COLOUR}">')
    for day in days:
        point = day["point"]
        label = _("%(day)s: commission %(commission)s") % {
            "day": point.day.isoformat(),
            "commission": format_minor(point.commission, currency),
        }
        out.append(
            f'<circle cx="{_fmt(day["x"])}" cy="{_fmt(day["line_y"])}" r="2.5" data-day="{point.day.isoformat()}" '
            f'data-value="{point.commission}"><title>{escape(label)}</title></circle>'
        )
    out.append("</g>")
    # Legend.
    out.append(f'<rect x="{LEFT}" y="8" width="12" height="12" fill="{GMV_COLOUR}"/>')
    out.append(f'<text x="{LEFT + 18}" y="18" fill="{AXIS_COLOUR}">{escape(_("GMV"))}</text>')
    out.append(
        f'<line x1="{LEFT + 90}" y1="14" x2="{LEFT + 106}" y2="14" stroke="{COMMISSION_COLOUR}" stroke-width="2"/>'
    )
    out.append(f'<text x="{LEFT + 112}" y="18" fill="{AXIS_COLOUR}">{escape(_("Commission"))}</text>')
    out.append("</svg>")
    # Safe: every interpolated string above is escaped or a number we formatted.
    return mark_safe("".join(out))  # noqa: S308
