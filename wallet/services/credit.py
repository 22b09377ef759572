"""Promotional credit in the ledger: granting lots, paying from a wallet, giving a payment back,
and posting expired credit to breakage (docs/ledger.md, "Promotional credit").

A shopper's wallet in one currency is two accounts: `customer` (gift card money, never
expires) and `customer_credit` (promotional credit), whose balance is always the sum of its
lots' `remaining`. Every write here locks the lots it reads before the accounts (the global
lock order: … → gift cards → credit lots → wallet accounts), checks against what it locked and
writes the lots in the same transaction as the transfer that explains them.
"""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from catalog.regions import region_day_end, region_day_is_over
from wallet.credit import CreditLotView, CreditPart, credit_plan
from wallet.exceptions import IdempotencyConflict, InsufficientFunds, WalletError
from wallet.locks import (
    creditlot_qs_select_for_update,
    creditlot_qs_select_for_update_by_pk,
    walletspend_qs_select_for_update,
)
from wallet.models import (
    CUSTOMER_KINDS,
    Account,
    CreditLot,
    CreditLotSpend,
    Posting,
    Transfer,
    WalletSpend,
)
from wallet.services.ledger import (
    Leg,
    TransferResult,
    system_account_get_or_create,
    transfer_create,
)

CREDIT_EXPIRED_DESCRIPTION = "Promotional credit expired"


@dataclass(frozen=True)
class SpendResult:
    """A wallet payment: its transfer, the credit and money parts, each lot's part."""

    transfer: Transfer
    credit: int
    money: int
    parts: tuple[CreditPart, ...] = ()
    replayed: bool = False

    @property
    def amount(self) -> int:
        return self.credit + self.money


@dataclass(frozen=True)
class ExpiryResult:
    lots: int
    amounts: dict[str, int]  # currency -> minor units posted to breakage this run


def credit_account_get_or_create(*, user_id: int, currency: str) -> Account:
    """The shopper's promotional-credit account in `currency`, made on first use (a unique
    constraint picks one winner under concurrency). Idempotent."""
    return _own_account(Account.Kind.CUSTOMER_CREDIT, user_id=user_id, currency=currency)


def _own_account(kind: str, *, user_id: int, currency: str) -> Account:
    account, _ = Account.objects.get_or_create(kind=kind, user_id=user_id, currency=currency)
    return account


def lot_view(lot: CreditLot) -> CreditLotView:
    return CreditLotView(
        id=lot.pk,
        remaining=lot.remaining,
        expires_on=lot.expires_on,
        category_ids=frozenset(lot.category_ids or ()),
        expires_at=lot.expires_at,
    )


def wallet_credit_grant(
    *,
    user,
    amount: int,
    currency: str,
    expires_on: datetime.date,
    idempotency_key: str,
    description: str,
    reference: str,
    category_ids: Iterable[int] = (),
) -> CreditLot:
    """Grant `amount` minor units of promotional credit to the shopper, spendable until the
    end of `expires_on` in their region's time zone, optionally only on `category_ids`.

    One `credit_grant` transfer (from `credit_issued` to `customer_credit`) and one lot, in one
    transaction. Idempotent on `idempotency_key`: a replay returns the first lot; a replay for
    another shopper, amount, day or categories raises `IdempotencyConflict`. Raises
    `WalletError` for a non-positive amount, another currency than the shopper's region's, or
    a last day that is already over there; nothing is written.
    """
    region = user.region
    categories = sorted({int(category) for category in category_ids})
    if amount <= 0:
        raise WalletError("promotional credit must be positive")
    if currency != region.currency:
        raise WalletError(f"credit for a {region.code} shopper is granted in {region.currency}")
    if region_day_is_over(region, expires_on):
        raise WalletError(f"{expires_on:%Y-%m-%d} is already over in {region.name}")
    with transaction.atomic():
        account = credit_account_get_or_create(user_id=user.pk, currency=currency)
        issued = system_account_get_or_create(kind=Account.Kind.CREDIT_ISSUED, currency=currency)
        result = transfer_create(
            idempotency_key=idempotency_key,
            kind=Transfer.Kind.CREDIT_GRANT,
            description=description,
            legs=[Leg(issued.pk, -amount), Leg(account.pk, amount)],
            reference=reference or None,
        )
        if result.replayed:
            lot = CreditLot.objects.filter(grant_transfer=result.transfer).first()
            if lot is None or (lot.expires_on, lot.category_ids) != (expires_on, categories):
                raise IdempotencyConflict(f"key {idempotency_key!r} granted another credit")
            return lot
        return CreditLot.objects.create(
            user=user,
            currency=currency,
            amount=amount,
            remaining=amount,
            expires_on=expires_on,
            expires_at=region_day_end(region, expires_on),
            category_ids=categories,
            description=description[:200],
            reference=(reference or "")[:64],
            grant_transfer=result.transfer,
        )


def wallet_spend(
    *,
    user,
    amount: int,
    payable_by_category: Mapping[int | None, int],
    idempotency_key: str,
    description: str,
    reference: str | None,
) -> SpendResult:
    """Pay `amount` minor units from the shopper's wallet (their region's currency) to the
    shop's `purchases` account: eligible credit first, soonest-expiring, then gift card money.

    Runs in the caller's transaction (no savepoint: a refusal aborts the caller's work too).
    Locks the shopper's spendable lots, then the accounts (inside `transfer_create`), plans
    again under the lock (`wallet.credit.credit_plan`) and posts one `order_payment` transfer
    with the credit part from `customer_credit` and the money part from `customer`.
    Idempotent on `idempotency_key`: a replay returns the first spend (`replayed=True`); a
    replay for another amount or shopper raises `IdempotencyConflict`. Raises
    `InsufficientFunds` when credit and money together cannot pay `amount`, `WalletError` for
    a non-positive amount; nothing is written then.
    """
    if amount <= 0:
        raise WalletError("a payment must be positive")
    currency = user.region.currency
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        # Lots first: two spends of one wallet queue here, and the second plans with what the
        # first left (the accounts are locked next, by transfer_create).
        lots = list(creditlot_qs_select_for_update(user_id=user.pk, currency=currency, now=now))
        existing = Transfer.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _spend_replay(existing, user=user, amount=amount)
        plan = credit_plan(
            lots=[lot_view(lot) for lot in lots],
            amount=amount,
            payable_by_category=payable_by_category,
            now=now,
        )
        own = dict(
            Account.objects.filter(
                user=user, currency=currency, kind__in=CUSTOMER_KINDS
            ).values_list("kind", "pk")
        )
        if (plan.money and Account.Kind.CUSTOMER not in own) or (
            plan.credit and Account.Kind.CUSTOMER_CREDIT not in own
        ):
            raise InsufficientFunds("the balance is not enough")
        purchases = system_account_get_or_create(kind=Account.Kind.PURCHASES, currency=currency)
        legs = [Leg(purchases.pk, amount)]
        if plan.credit:
            legs.append(Leg(own[Account.Kind.CUSTOMER_CREDIT], -plan.credit))
        if plan.money:
            legs.append(Leg(own[Account.Kind.CUSTOMER], -plan.money))
        result = transfer_create(
            idempotency_key=idempotency_key,
            kind=Transfer.Kind.ORDER_PAYMENT,
            description=description,
            legs=legs,
            reference=reference,
        )
        if result.replayed:  # a same-key spend with no lot to queue on committed meanwhile
            return _spend_replay(result.transfer, user=user, amount=amount)
        spend = WalletSpend.objects.create(
            transfer=result.transfer,
            user=user,
            currency=currency,
            credit=plan.credit,
            money=plan.money,
        )
        by_id = {lot.pk: lot for lot in lots}
        for part in plan.parts:
            by_id[part.lot_id].remaining -= part.amount
        CreditLot.objects.bulk_update([by_id[part.lot_id] for part in plan.parts], ["remaining"])
        CreditLotSpend.objects.bulk_create(
            CreditLotSpend(
                spend=spend, lot_id=part.lot_id, transfer=result.transfer, amount=part.amount
            )
            for part in plan.parts
        )
    return SpendResult(
        transfer=result.transfer, credit=plan.credit, money=plan.money, parts=plan.parts
    )


def _spend_replay(existing: Transfer, *, user, amount: int) -> SpendResult:
    spend = WalletSpend.objects.filter(transfer=existing).first()
    if spend is None or spend.user_id != user.pk or spend.credit + spend.money != amount:
        raise IdempotencyConflict(f"key {existing.idempotency_key!r} was used for another payment")
    parts = tuple(
        CreditPart(lot_id=lot_id, amount=part)
        for lot_id, part in spend.lot_spends.order_by("pk").values_list("lot_id", "amount")
    )
    return SpendResult(
        transfer=existing, credit=spend.credit, money=spend.money, parts=parts, replayed=True
    )


def wallet_spend_return(
    *,
    transfer: Transfer,
    amount: int,
    idempotency_key: str,
    description: str,
    reference: str | None,
    kind: str = Transfer.Kind.REFUND,
) -> TransferResult:
    """Give `amount` minor units of the wallet payment `transfer` back to the shopper, as one
    transfer from `purchases` (`refund`; `reversal` for a payment that never stood).

    The credit share goes back as credit to the lots it came from, with their old expiry
    (latest-expiring lot first; a lot already expired sends its share straight to
    `credit_breakage`, where it would have gone anyway); the rest goes to gift card money. The
    credit share is cumulative: after returns totalling R of a payment T with credit C, exactly
    floor(C·R / T) credit has gone back, so partial returns sum to the credit part exactly and
    a full return gives every lot back what it paid. Runs in the caller's transaction.
    Idempotent on `idempotency_key` (a replay of another amount: `IdempotencyConflict`).
    Raises `WalletError` for a non-positive amount or more than is left to give back;
    nothing is written then. A payment made before wallet spends were recorded (by
    `wallet_debit`) is all money.
    """
    if amount <= 0:
        raise WalletError("a return must be positive")
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        spend = walletspend_qs_select_for_update(transfer_id=transfer.pk).first()
        if spend is None:
            return _legacy_return(transfer, amount, idempotency_key, description, reference, kind)
        lot_spends = list(spend.lot_spends.order_by("pk"))
        lots = {
            lot.pk: lot
            for lot in creditlot_qs_select_for_update_by_pk(lot_ids=[s.lot_id for s in lot_spends])
        }
        existing = Transfer.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _return_replay(existing, amount, kind)
        total = spend.credit + spend.money
        if spend.returned + amount > total:
            raise WalletError(f"only {total - spend.returned} of this payment is left to return")
        # Cumulative rounding: the credit given back so far is always floor(C·R / T).
        credit_share = (spend.credit * (spend.returned + amount)) // total - (
            spend.credit * spend.returned
        ) // total
        to_lots = to_breakage = 0
        left = credit_share
        changed = []
        newest_first = sorted(
            lot_spends, key=lambda s: (lots[s.lot_id].expires_at, s.lot_id), reverse=True
        )
        for lot_spend in newest_first:
            take = min(lot_spend.amount - lot_spend.returned, left)
            if take <= 0:
                continue
            left -= take
            lot_spend.returned += take
            changed.append(lot_spend)
            lot = lots[lot_spend.lot_id]
            if lot.expires_at <= now:
                to_breakage += take
            else:
                lot.remaining += take
                to_lots += take
        money_share = amount - credit_share
        currency = spend.currency
        purchases = system_account_get_or_create(kind=Account.Kind.PURCHASES, currency=currency)
        legs = [Leg(purchases.pk, -amount)]
        if to_lots:
            credit_account = credit_account_get_or_create(user_id=spend.user_id, currency=currency)
            legs.append(Leg(credit_account.pk, to_lots))
        if to_breakage:
            breakage = system_account_get_or_create(
                kind=Account.Kind.CREDIT_BREAKAGE, currency=currency
            )
            legs.append(Leg(breakage.pk, to_breakage))
        if money_share:
            money_account = _own_account(
                Account.Kind.CUSTOMER, user_id=spend.user_id, currency=currency
            )
            legs.append(Leg(money_account.pk, money_share))
        result = transfer_create(
            idempotency_key=idempotency_key,
            kind=kind,
            description=description,
            legs=legs,
            reference=reference,
        )
        spend.returned += amount
        spend.save(update_fields=["returned"])
        CreditLotSpend.objects.bulk_update(changed, ["returned"])
        CreditLot.objects.bulk_update(
            [lots[s.lot_id] for s in changed if lots[s.lot_id].expires_at > now], ["remaining"]
        )
    return result


def _return_replay(existing: Transfer, amount: int, kind: str) -> TransferResult:
    postings = list(existing.postings.order_by("pk"))
    given = sum(p.amount for p in postings if p.amount > 0)
    if existing.kind != kind or given != amount:
        raise IdempotencyConflict(f"key {existing.idempotency_key!r} was used for another return")
    return TransferResult(transfer=existing, postings=postings, replayed=True)


def _legacy_return(transfer, amount, idempotency_key, description, reference, kind):
    paid = (
        Posting.objects.select_related("account")
        .filter(transfer=transfer, account__kind=Account.Kind.CUSTOMER, amount__lt=0)
        .first()
    )
    if paid is None or amount > -paid.amount:
        raise WalletError("that is not a wallet payment of this much")
    purchases = system_account_get_or_create(
        kind=Account.Kind.PURCHASES, currency=paid.account.currency
    )
    return transfer_create(
        idempotency_key=idempotency_key,
        kind=kind,
        description=description,
        legs=[Leg(purchases.pk, -amount), Leg(paid.account_id, amount)],
        reference=reference,
    )


def wallet_expire_credit(*, now: datetime.datetime | None = None) -> ExpiryResult:
    """Post the remainder of every lot whose last day is over (at `now`, default the current
    time) from the shopper's `customer_credit` account to `credit_breakage`, one
    `credit_expiry` transfer per lot (key `credit-expire:<lot id>`), and empty the lot.

    Idempotent: an expired lot is emptied in the transaction that posts its remainder, so a
    second run (or two at once: each lot is locked and checked again) finds nothing to do.
    One transaction per lot, so a long run holds no lock for long.
    """
    now = now or timezone.now()
    due = list(
        CreditLot.objects.filter(remaining__gt=0, expires_at__lte=now)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    count = 0
    amounts: dict[str, int] = {}
    for lot_id in due:
        with transaction.atomic():
            lot = creditlot_qs_select_for_update_by_pk(lot_ids=[lot_id]).first()
            if lot is None or lot.remaining == 0 or lot.expires_at > now:
                continue  # another run took it first
            account = credit_account_get_or_create(user_id=lot.user_id, currency=lot.currency)
            breakage = system_account_get_or_create(
                kind=Account.Kind.CREDIT_BREAKAGE, currency=lot.currency
            )
            transfer_create(
                idempotency_key=f"credit-expire:{lot.pk}",
                kind=Transfer.Kind.CREDIT_EXPIRY,
                description=f"{CREDIT_EXPIRED_DESCRIPTION} (last day {lot.expires_on:%Y-%m-%d})",
                legs=[Leg(account.pk, -lot.remaining), Leg(breakage.pk, lot.remaining)],
                reference=lot.reference or None,
            )
            amounts[lot.currency] = amounts.get(lot.currency, 0) + lot.remaining
            count += 1
            lot.remaining = 0
            lot.save(update_fields=["remaining"])
    return ExpiryResult(lots=count, amounts=amounts)
