"""Money as integer minor units plus an ISO 4217 code; arithmetic refuses mixed currencies."""

from __future__ import annotations

from dataclasses import dataclass

CURRENCY_EXPONENT = {"CNY": 2, "USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "HKD": 2}
CURRENCY_SYMBOL = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "HKD": "HK$"}


class CurrencyMismatch(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Money:
    amount: int
    currency: str

    def __post_init__(self) -> None:
        if not isinstance(self.amount, int) or isinstance(self.amount, bool):
            raise TypeError("Money.amount must be an int of minor units")
        if self.currency not in CURRENCY_EXPONENT:
            raise ValueError(f"Unsupported currency {self.currency!r}")

    def _check(self, other: Money) -> None:
        if self.currency != other.currency:
            raise CurrencyMismatch(f"{self.currency} != {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount - other.amount, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not isinstance(factor, int):
            raise TypeError("Multiply money by whole quantities only")
        return Money(self.amount * factor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount < other.amount

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount <= other.amount

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def format(self) -> str:
        return format_minor(self.amount, self.currency)


def format_minor(amount: int, currency: str) -> str:
    """Render minor units for people, e.g. 12990 CNY -> '¥129.90'."""
    exponent = CURRENCY_EXPONENT.get(currency, 2)
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    symbol = CURRENCY_SYMBOL.get(currency, currency + " ")
    if exponent == 0:
        return f"{sign}{symbol}{value:,}"
    whole, frac = divmod(value, 10**exponent)
    return f"{sign}{symbol}{whole:,}.{frac:0{exponent}d}"
