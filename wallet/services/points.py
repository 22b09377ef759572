"""Reward points (docs/points.md): earned on delivered orders, pending for the return window,
then available; lowered by refunds; converted to promotional credit in whole steps.

The points are ledger units (`PTS`) on three accounts: the shop's `points_issued` (the
funding side), the shopper's `customer_points_pending` and `customer_points`. A `PointsEarning`
per order says how many of the pending ones it stands for and when they are released. What
a refund takes back that the shopper already used becomes a `PointsShortfall`, taken from
their next release: a balance never goes below zero.

Lock order (docs/ledger.md): the order (the caller's) → the order's earning → the accounts
(`transfer_create`); a release takes the shopper's open shortfalls after the accounts.
"""

import datetime
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.locks import user_qs_select_for_update
from catalog.money import format_money
from wallet.exceptions import IdempotencyConflict, InsufficientFunds, PointsRefused
from wallet.locks import (
    account_qs_select_for_update,
    pointsearning_qs_select_for_update,
    pointsearning_qs_select_for_update_by_pk,
    pointsshortfall_qs_select_for_update,
)
from wallet.models import Account, CreditLot, PointsEarning, PointsShortfall, Transfer
from wallet.models.credit import CREDIT_NO_EXPIRY_AT, CREDIT_NO_EXPIRY_ON
from wallet.services.credit import credit_account_get_or_create
from wallet.services.ledger import (
    Leg,
    system_account_get_or_create,
    transfer_create,
    unit_account_get_or_create,
)
from wallet.units import (
    POINTS,
    POINTS_CONVERT_STEP,
    POINTS_PENDING_DAYS,
    format_points,
    points_credit_value,
    points_earned,
)

PENDING = Account.Kind.CUSTOMER_POINTS_PENDING
AVAILABLE = Account.Kind.CUSTOMER_POINTS


def _accounts(user) -> tuple[Account, Account, Account]:
    """The shopper's pending and available points accounts and the shop's funding account."""
    return (
        unit_account_get_or_create(user=user, kind=PENDING),
        unit_account_get_or_create(user=user, kind=AVAILABLE),
        system_account_get_or_create(kind=Account.Kind.POINTS_ISSUED, currency=POINTS),
    )


def _order_label(reference: str) -> str:
    """ "order:CP-7K2M9QXR" → "order CP-7K2M9QXR" for descriptions."""
    kind, _, ident = reference.partition(":")
    return f"{kind} {ident}" if ident else reference


def points_order_settle(
    *, user, reference: str, currency: str, paid: int, delivered_at=None
) -> PointsEarning | None:
    """Bring the points of one order (`reference`, "order:CP-…") to `points_earned(paid)`.

    `paid` is what of the order still earns (checkout/services/order_points.py says what
    that is). Not earned yet: with `delivered_at`, the points are earned, pending until
    `delivered_at` + the return window (nothing when they are 0); without it nothing happens
    (the order is not delivered: it earns on its net figure once it is). Earned already and
    the target is below what the earning keeps: the difference is reversed, from the pending
    points while the earning is pending, else from the available points; what the shopper no
    longer has (they converted it) becomes a `PointsShortfall`. Points never rise after they
    were earned (a refund only lowers what was paid).

    Idempotent: the target decides, so a repeated call moves nothing. Runs in the caller's
    transaction (the order lock it holds is above the earning in the lock order), or its own.
    Returns the earning, or None when there is none.
    """
    target = points_earned(paid=paid, currency=currency)
    with transaction.atomic():
        earning = pointsearning_qs_select_for_update(reference=reference).first()
        if earning is None:
            if delivered_at is None or target <= 0:
                return None
            return _earn(user, reference, currency, target, delivered_at)
        if target >= earning.kept:
            return earning
        _reverse(earning, earning.kept - target)
        return earning


def _earn(user, reference, currency, points, delivered_at) -> PointsEarning:
    pending, _, issued = _accounts(user)
    result = transfer_create(
        idempotency_key=f"points-earn:{reference}",
        kind=Transfer.Kind.POINTS_EARN,
        description=f"Points earned on {_order_label(reference)}",
        legs=[Leg(issued.pk, -points), Leg(pending.pk, points)],
        reference=reference,
    )
    try:
        with transaction.atomic():
            return PointsEarning.objects.create(
                user=user,
                reference=reference,
                currency=currency,
                points=points,
                release_at=delivered_at + datetime.timedelta(days=POINTS_PENDING_DAYS),
                earn_transfer=result.transfer,
            )
    except IntegrityError:
        # The same order earned in another transaction meanwhile (its transfer replayed).
        return PointsEarning.objects.get(reference=reference)


def _reverse(earning: PointsEarning, points: int) -> None:
    """Take `points` of `earning` back: from its pending points, or once released from the
    available ones as far as they go; the rest is owed (a shortfall)."""
    user = earning.user
    pending, available, issued = _accounts(user)
    kept_after = earning.kept - points
    key = f"points-reverse:{earning.reference}:{kept_after}"
    description = f"Points taken back: refund of {_order_label(earning.reference)}"
    owed = 0
    if earning.is_pending:
        legs = [Leg(pending.pk, -points), Leg(issued.pk, points)]
    else:
        # The three accounts locked now, in primary-key order as transfer_create takes them,
        # so the balance read is the one the reversal is judged on (a conversion in another
        # tab waits) and no lock is taken out of order.
        locked = {
            a.pk: a
            for a in account_qs_select_for_update(account_ids={pending.pk, available.pk, issued.pk})
        }
        taken = min(points, locked[available.pk].balance)
        owed = points - taken
        legs = [Leg(available.pk, -taken), Leg(issued.pk, taken)] if taken else []
    if legs:
        # The accounts are locked and checked in transfer_create: a conversion that spent
        # the points meanwhile makes this refuse rather than go below zero; then the refund's
        # transaction is rolled back whole and retried by the caller.
        transfer_create(
            idempotency_key=key,
            kind=Transfer.Kind.POINTS_REVERSAL,
            description=description,
            legs=legs,
            reference=earning.reference,
        )
    if owed:
        PointsShortfall.objects.create(user=user, reference=earning.reference, points=owed)
    earning.reversed += points
    earning.save(update_fields=["reversed"])


@dataclass(frozen=True)
class ReleaseResult:
    earnings: int  # how many orders' points became available
    points: int  # how many points became available (after what was owed was settled)


def points_release(*, now=None) -> ReleaseResult:
    """Make every earning whose return window is over available, one transaction each.
    What the shopper owes (shortfalls, oldest first) is settled from it first. Idempotent:
    an earning is locked and checked again, so two runs at once release it once."""
    now = now or timezone.now()
    due = PointsEarning.objects.filter(released_at__isnull=True, release_at__lte=now).values_list(
        "pk", flat=True
    )
    earnings, points = 0, 0
    for earning_id in list(due.order_by("release_at", "pk")):
        # An earning refunds took back whole, or whose points all paid what was owed, is
        # closed without making any available: not counted as released.
        released = _release_one(earning_id, now)
        if released:
            earnings += 1
            points += released
    return ReleaseResult(earnings=earnings, points=points)


def _release_one(earning_id: int, now) -> int | None:
    with transaction.atomic():
        earning = pointsearning_qs_select_for_update_by_pk(earning_id=earning_id).first()
        if earning is None or not earning.is_pending or earning.release_at > now:
            return None
        kept = earning.kept
        pending, available, issued = _accounts(earning.user)
        # The shopper's points accounts before their shortfalls: a refund writing a new
        # shortfall holds these until it commits, so this waits for it and then sees its row
        # (a row not yet committed cannot be waited on). Only a release locks shortfalls.
        list(account_qs_select_for_update(account_ids={pending.pk, available.pk, issued.pk}))
        settled = 0
        for shortfall in pointsshortfall_qs_select_for_update(user_id=earning.user_id):
            part = min(shortfall.owed, kept - settled)
            if part <= 0:
                break
            shortfall.settled += part
            shortfall.save(update_fields=["settled"])
            settled += part
        if kept:
            legs = [Leg(pending.pk, -kept)]
            if kept - settled:
                legs.append(Leg(available.pk, kept - settled))
            if settled:
                # What was owed goes back to where points come from: as if never earned.
                legs.append(Leg(issued.pk, settled))
            result = transfer_create(
                idempotency_key=f"points-release:{earning.reference}",
                kind=Transfer.Kind.POINTS_RELEASE,
                description=f"Points available: {_order_label(earning.reference)}"
                + (f" ({format_points(settled)} owed taken)" if settled else ""),
                legs=legs,
                reference=earning.reference,
            )
            earning.release_transfer = result.transfer
        earning.released_at = now
        earning.save(update_fields=["released_at", "release_transfer"])
        return kept - settled


@dataclass(frozen=True)
class ConvertResult:
    transfer: Transfer
    lot: CreditLot
    points: int
    credit: int  # minor units of `currency`
    currency: str
    replayed: bool


def points_convert(*, user, points: int, idempotency_key: str) -> ConvertResult:
    """Convert `points` (whole steps of 500) of the shopper's available points into
    promotional credit without expiry in their region's currency, at its rate.

    One `points_convert` transfer with a points side (-customer_points, +points_converted)
    and a money side (-points_credit, +customer_credit) and one credit lot, in one
    transaction; the points account is locked and checked in it, so parallel conversions of
    the same points succeed only as far as the points go. Idempotent on `idempotency_key`: a
    replay returns the first conversion. Raises `PointsRefused` ("not_multiple", "too_few",
    "conflict"); nothing is written.
    """
    if points <= 0 or points % POINTS_CONVERT_STEP:
        raise PointsRefused(
            f"Convert points in steps of {POINTS_CONVERT_STEP}: 500, 1,000, 1,500 and so on.",
            reason="not_multiple",
        )
    with transaction.atomic():
        # The shopper's row first (level 0 of the lock order): a region change takes it too,
        # so the currency converted into is the one the shopper is in when it commits.
        shopper = user_qs_select_for_update(user_id=user.pk).get()
        currency = shopper.region.currency
        credit = points_credit_value(points=points, currency=currency)
        shown = format_money(credit, currency=currency)
        available = unit_account_get_or_create(user=user, kind=AVAILABLE)
        converted = system_account_get_or_create(
            kind=Account.Kind.POINTS_CONVERTED, currency=POINTS
        )
        funding = system_account_get_or_create(kind=Account.Kind.POINTS_CREDIT, currency=currency)
        credit_account = credit_account_get_or_create(user_id=user.pk, currency=currency)
        # Money accounts before points accounts (docs/ledger.md): a refund moves the money
        # part first and then the order's points, so both take the shopper's credit account
        # before their points account, whatever the accounts' ids.
        list(account_qs_select_for_update(account_ids={credit_account.pk, funding.pk}))
        try:
            result = transfer_create(
                idempotency_key=idempotency_key,
                kind=Transfer.Kind.POINTS_CONVERT,
                description=f"{format_points(points)} converted to {shown} of credit",
                legs=[
                    Leg(available.pk, -points),
                    Leg(converted.pk, points),
                    Leg(funding.pk, -credit),
                    Leg(credit_account.pk, credit),
                ],
            )
        except InsufficientFunds:
            raise PointsRefused(
                f"You have {format_points(available.balance)} available: converting "
                f"{format_points(points)} needs that many.",
                reason="too_few",
            ) from None
        except IdempotencyConflict:
            raise PointsRefused(
                "This form was already used for another conversion. Open the page again.",
                reason="conflict",
            ) from None
        if result.replayed:
            lot = CreditLot.objects.get(grant_transfer=result.transfer)
            return ConvertResult(result.transfer, lot, points, credit, currency, replayed=True)
        lot = CreditLot.objects.create(
            user=user,
            currency=currency,
            amount=credit,
            remaining=credit,
            expires_on=CREDIT_NO_EXPIRY_ON,
            expires_at=CREDIT_NO_EXPIRY_AT,
            description=f"From {format_points(points)}",
            reference="points:convert",
            grant_transfer=result.transfer,
        )
    return ConvertResult(result.transfer, lot, points, credit, currency, replayed=False)
