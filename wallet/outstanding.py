"""Points and coins outstanding: what the shop owes its shoppers in reward points and coins, for
the staff report (docs/points.md). Shop-wide reads, not scoped to a shopper (the admin checks
the permission), each figure from one aggregate query whatever the number of shoppers.

Points and coins are one account each per shopper, in their own units, whatever their region;
what they are worth depends on the region's currency (wallet.units): available points convert
to promotional credit at the region's rate, coins pay for digital items at theirs. So the
liability is given per region currency, from the shoppers of the regions in that currency.
"""

from dataclasses import dataclass

from django.db.models import F, Sum

from catalog.models import Region
from wallet.models import Account, PointsShortfall
from wallet.shop_balances import shop_balances_get
from wallet.units import COINS, POINTS, UnknownCurrency, coins_value, points_credit_value

Kind = Account.Kind

# The shop's accounts the report reads beside the shoppers': what was issued, converted, sold,
# spent and adjusted by staff (the last in PTS and CNS).
_SHOP_KINDS = (
    Kind.POINTS_ISSUED,
    Kind.POINTS_CONVERTED,
    Kind.POINTS_CREDIT,
    Kind.COINS_SOLD,
    Kind.COINS_SPENT,
    Kind.ADJUSTMENTS,
)
_SHOPPER_KINDS = (Kind.CUSTOMER_POINTS, Kind.CUSTOMER_POINTS_PENDING, Kind.CUSTOMER_COINS)


@dataclass(frozen=True)
class CurrencyLiability:
    """The points and coins of the shoppers whose region is in `currency`, and their worth in
    its minor units (None when the currency has no points or coin rate)."""

    currency: str
    points_available: int
    points_pending: int
    points_owed: int
    coins: int
    points_value: int | None
    pending_value: int | None
    coins_value: int | None
    # The promotional credit conversions gave in this currency so far (minor units).
    converted_credit: int

    @property
    def liability(self) -> int | None:
        """What the shop owes now: available points at the conversion rate plus coins at their
        value (pending points are not owed until released, and may still be reversed)."""
        if self.points_value is None or self.coins_value is None:
            return None
        return self.points_value + self.coins_value


@dataclass(frozen=True)
class UnitsOutstanding:
    """Shop-wide totals, in points and coins.

    On the ledger: `points_earned` + `points_adjusted` = `points_available` + `points_pending`
    + `points_converted`, and `coins_sold` + `coins_adjusted` = `coins_outstanding` +
    `coins_spent`. `points_owed` (refunds that took back points already used) is not on the
    ledger: it is taken from the shoppers' next releases."""

    points_available: int
    points_pending: int
    points_owed: int
    points_earned: int  # net of reversals
    points_converted: int
    points_adjusted: int  # by staff, net
    coins_outstanding: int
    coins_sold: int  # net of coin packs taken back
    coins_spent: int  # net of coins returned
    coins_adjusted: int  # by staff, net
    currencies: list[CurrencyLiability]


def _worth(rate, amount: int, currency: str) -> int | None:
    try:
        return rate(amount, currency)
    except UnknownCurrency:
        return None


def units_outstanding_get() -> UnitsOutstanding:
    """The report's figures: four queries (the shoppers' accounts by kind and region currency,
    the shop's balances from their postings, the points owed by region currency, the region
    currencies), flat in the number of shoppers."""
    held: dict[tuple[str, str | None], int] = {}
    rows = (
        Account.objects.filter(kind__in=_SHOPPER_KINDS)
        .values("kind", "user__region__currency")
        .annotate(total=Sum("balance"))
        .order_by()
    )
    for row in rows:
        key = (row["kind"], row["user__region__currency"])
        held[key] = held.get(key, 0) + row["total"]
    # A shop account's balance is not cached: it is the sum of its postings (docs/ledger.md).
    shop = shop_balances_get(kinds=_SHOP_KINDS)
    owed = {
        row["user__region__currency"]: row["owed"]
        for row in PointsShortfall.objects.filter(settled__lt=F("points"))
        .values("user__region__currency")
        .annotate(owed=Sum(F("points") - F("settled")))
        .order_by()
    }
    region_currencies = set(Region.objects.values_list("currency", flat=True).distinct())
    currencies = sorted(
        region_currencies
        | {currency for _, currency in held}
        | set(owed)
        | {currency for kind, currency in shop if kind == Kind.POINTS_CREDIT}
    )

    def total(kind: str) -> int:
        return sum(amount for (k, _), amount in held.items() if k == kind)

    per_currency = []
    for currency in currencies:
        available = held.get((Kind.CUSTOMER_POINTS, currency), 0)
        pending = held.get((Kind.CUSTOMER_POINTS_PENDING, currency), 0)
        coins = held.get((Kind.CUSTOMER_COINS, currency), 0)
        per_currency.append(
            CurrencyLiability(
                currency=currency,
                points_available=available,
                points_pending=pending,
                points_owed=owed.get(currency, 0),
                coins=coins,
                points_value=_worth(_points_worth, available, currency),
                pending_value=_worth(_points_worth, pending, currency),
                coins_value=_worth(_coins_worth, coins, currency),
                converted_credit=-shop.get((Kind.POINTS_CREDIT, currency), 0),
            )
        )
    return UnitsOutstanding(
        points_available=total(Kind.CUSTOMER_POINTS),
        points_pending=total(Kind.CUSTOMER_POINTS_PENDING),
        points_owed=sum(owed.values()),
        points_earned=-shop.get((Kind.POINTS_ISSUED, POINTS), 0),
        points_converted=shop.get((Kind.POINTS_CONVERTED, POINTS), 0),
        points_adjusted=-shop.get((Kind.ADJUSTMENTS, POINTS), 0),
        coins_outstanding=total(Kind.CUSTOMER_COINS),
        coins_sold=-shop.get((Kind.COINS_SOLD, COINS), 0),
        coins_spent=shop.get((Kind.COINS_SPENT, COINS), 0),
        coins_adjusted=-shop.get((Kind.ADJUSTMENTS, COINS), 0),
        currencies=per_currency,
    )


def _points_worth(points: int, currency: str) -> int:
    return points_credit_value(points=points, currency=currency)


def _coins_worth(coins: int, currency: str) -> int:
    return coins_value(coins=coins, currency=currency)
