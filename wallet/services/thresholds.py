"""How much value one staff member may move alone, and how much at all (docs/interface.md §9).

Each threshold is per currency (settings, in major units; points and coins, which adjust like
balances, in whole points and coins). What one person moved alone in the last 24 hours counts
with the new request, so splitting a large batch or adjustment into small ones does not avoid
a second pair of eyes. The callers hold the person's lock
(`wallet.locks.staff_user_qs_select_for_update`) from this check to their write, so two
parallel requests cannot both be measured against the same earlier total.
"""

import datetime
from collections.abc import Mapping

from django.conf import settings
from django.db.models import F, Sum
from django.db.models.functions import Abs
from django.utils import timezone

from catalog.money import MoneyError, parse_amount
from wallet.exceptions import WalletError
from wallet.models import BalanceAdjustment, GiftCardBatch
from wallet.units import UNITS

# The rolling window in which one person's unapproved requests add up.
WINDOW = datetime.timedelta(hours=24)

# An amount this many times its approval threshold is refused outright, not sent for approval:
# no one needs ten billion dollars of adjustment, and such a number is a typo or an attack.
REFUSE_ABOVE_THRESHOLD_TIMES = 1000

# Batch statuses whose value was (or is about to be) minted without a second person: an
# auto-approved batch counts until it is rejected (withdrawn) or failed (never redeemable).
_MINTING = (
    GiftCardBatch.Status.APPROVED,
    GiftCardBatch.Status.ISSUING,
    GiftCardBatch.Status.ISSUED,
)


def _threshold(setting, *, name: str, currency: str) -> int:
    """A threshold setting in minor units of `currency` (whole points or coins for a ledger
    unit, wallet.units): a mapping per currency, or (as before it was per currency) one amount
    for all. A currency without one is refused, not waved through."""
    text = setting.get(currency) if isinstance(setting, Mapping) else setting
    if text is None:
        raise WalletError(f"no {name} is set for {currency}: ask an administrator")
    if currency in UNITS:
        # Points and coins have no minor unit: a whole, positive number.
        raw = str(text).strip()
        if not raw.isascii() or not raw.isdigit() or int(raw) <= 0:
            raise WalletError(f"{name} for {currency} is not a whole number: {text!r}")
        return int(raw)
    try:
        return parse_amount(str(text), currency=currency)
    except MoneyError as error:
        raise WalletError(f"{name} for {currency} is not an amount: {error}") from None


def giftcard_batch_threshold(*, currency: str) -> int:
    """`GIFTCARD_APPROVAL_MAX_TOTAL` for `currency`, in minor units."""
    return _threshold(
        settings.GIFTCARD_APPROVAL_MAX_TOTAL, name="GIFTCARD_APPROVAL_MAX_TOTAL", currency=currency
    )


def balance_adjustment_threshold(*, currency: str) -> int:
    """`BALANCE_ADJUSTMENT_APPROVAL_MAX` for `currency`, in minor units; for points (`PTS`) and
    coins (`CNS`), `POINTS_COINS_ADJUSTMENT_APPROVAL_MAX`, in whole points and coins."""
    if currency in UNITS:
        return _threshold(
            settings.POINTS_COINS_ADJUSTMENT_APPROVAL_MAX,
            name="POINTS_COINS_ADJUSTMENT_APPROVAL_MAX",
            currency=currency,
        )
    return _threshold(
        settings.BALANCE_ADJUSTMENT_APPROVAL_MAX,
        name="BALANCE_ADJUSTMENT_APPROVAL_MAX",
        currency=currency,
    )


def _since():
    return timezone.now() - WINDOW


def giftcard_batches_alone(*, created_by, currency: str) -> tuple[int, int]:
    """(cards, total value) of the batches `created_by` had approved without a second person in
    the last 24 hours, in `currency`."""
    if created_by is None:
        return 0, 0
    totals = GiftCardBatch.objects.filter(
        created_by=created_by,
        approved_by__isnull=True,
        currency=currency,
        status__in=_MINTING,
        created_at__gte=_since(),
    ).aggregate(cards=Sum("card_count"), total=Sum(F("card_count") * F("amount")))
    return totals["cards"] or 0, totals["total"] or 0


def balance_adjustments_alone(*, requested_by, currency: str) -> int:
    """The size (credits and debits alike) of the adjustments `requested_by` applied without a
    second person in the last 24 hours, in `currency`."""
    total = BalanceAdjustment.objects.filter(
        requested_by=requested_by,
        approved_by__isnull=True,
        currency=currency,
        status=BalanceAdjustment.Status.APPLIED,
        requested_at__gte=_since(),
    ).aggregate(total=Sum(Abs("amount")))["total"]
    return total or 0


def giftcard_batch_needs_approval(
    *, count: int, amount: int, currency: str, created_by=None
) -> bool:
    """Above `GIFTCARD_APPROVAL_MAX_CARDS` cards or `GIFTCARD_APPROVAL_MAX_TOTAL` in value
    (in the batch's currency), counting `created_by`'s batches approved without a second
    person in the last 24 hours, a second staff member must approve."""
    cards, total = giftcard_batches_alone(created_by=created_by, currency=currency)
    return (
        cards + count > settings.GIFTCARD_APPROVAL_MAX_CARDS
        or total + count * amount > giftcard_batch_threshold(currency=currency)
    )


def balance_adjustment_needs_approval(*, amount: int, currency: str, requested_by) -> bool:
    """Above `balance_adjustment_threshold` (in the account's currency or unit), counting
    `requested_by`'s adjustments applied alone in the last 24 hours, a second staff member
    must approve."""
    alone = balance_adjustments_alone(requested_by=requested_by, currency=currency)
    return alone + abs(amount) > balance_adjustment_threshold(currency=currency)


def refuse_limit(*, threshold: int) -> int:
    """The amount above which a request is refused outright."""
    return threshold * REFUSE_ABOVE_THRESHOLD_TIMES
