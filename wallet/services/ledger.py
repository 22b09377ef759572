"""The double-entry ledger: accounts, transfers and the shopper's credits and debits.

Each service owns its transaction and follows lock → check → write inside it: it locks the
rows it is about to change (helpers in `wallet/locks.py`, primary-key order), checks the rule
against what it locked, then writes. Database constraints (non-negative customer balances,
unique idempotency keys) stand behind every rule as the last guard.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from wallet import statements
from wallet.exceptions import (
    IdempotencyConflict,
    InsufficientFunds,
    UnbalancedTransfer,
    WalletError,
)
from wallet.locks import (
    account_qs_select_for_update,
)
from wallet.models import (
    CUSTOMER_KINDS,
    Account,
    Posting,
    Transfer,
)
from wallet.units import COINS, POINTS


@dataclass(frozen=True)
class Leg:
    """One side of a transfer: `amount` minor units (signed) on the account `account_id`."""

    account_id: int
    amount: int


@dataclass(frozen=True)
class TransferResult:
    transfer: Transfer
    postings: list[Posting]
    replayed: bool

    def balance_after(self, account_id: int) -> int:
        """The balance of `account_id` right after this transfer (its last posting)."""
        return [p.balance_after for p in self.postings if p.account_id == account_id][-1]


def wallet_account_get_or_create(*, user, currency: str | None = None) -> Account:
    """The shopper's balance account in `currency` (their region's by default), made if missing.

    Idempotent; safe under concurrency (a unique constraint picks one winner and the loser
    reads the winner's row).
    """
    currency = currency or user.region.currency
    account, _ = Account.objects.get_or_create(
        kind=Account.Kind.CUSTOMER, user=user, currency=currency
    )
    return account


# The unit each per-shopper account kind of points and coins is kept in (wallet.units).
UNIT_OF_KIND = {
    Account.Kind.CUSTOMER_POINTS: POINTS,
    Account.Kind.CUSTOMER_POINTS_PENDING: POINTS,
    Account.Kind.CUSTOMER_COINS: COINS,
}


def unit_account_get_or_create(*, user, kind: str) -> Account:
    """The shopper's points (available or pending) or coins account, made if missing: one per
    shopper and kind, in its unit (`PTS` / `CNS`), whatever their region. Idempotent; safe
    under concurrency (a unique constraint picks one winner)."""
    try:
        unit = UNIT_OF_KIND[kind]
    except KeyError:
        raise ValueError(f"{kind} is not a points or coins account") from None
    account, _ = Account.objects.get_or_create(kind=kind, user=user, currency=unit)
    return account


def system_account_get_or_create(*, kind: str, currency: str) -> Account:
    """The shop's own account of `kind` in `currency`, made on first use. Idempotent."""
    if kind in CUSTOMER_KINDS:
        raise ValueError("a customer account belongs to a user")
    account, _ = Account.objects.get_or_create(kind=kind, user=None, currency=currency)
    return account


def transfer_create(
    *,
    idempotency_key: str,
    kind: str,
    description: str,
    legs: Sequence[Leg],
    created_by=None,
    reference: str | None = None,
    accounts: Sequence[Account] = (),
    first_use: bool = False,
    also: Sequence[statements.Statement] = (),
) -> TransferResult:
    """Post one transfer: lock its shopper accounts, check, then write the postings and balances.

    Idempotent on `idempotency_key`: a replay of the same legs returns the first transfer
    (`replayed=True`) and moves nothing. Raises `UnbalancedTransfer` when the legs do not sum
    to zero per currency, `InsufficientFunds` when a customer balance would go below zero and
    `IdempotencyConflict` when the key was used for different legs. Runs in the caller's
    transaction when there is one (no savepoint: a refusal aborts the caller's work too).
    `reference` names what the movement is about as "<kind>:<id>" (e.g. "order:CP-7K2M9QXR"),
    so the wallet page can link the row to it.

    Only shopper (customer) accounts are locked and have their cached balance updated. A shop
    (system) account is read, never locked or updated: its balance is the sum of its postings
    (docs/ledger.md "Shop accounts"), so no shopper waits on another's transaction for it.

    `accounts`: the legs' accounts when the caller already has them, its shopper accounts
    locked in this transaction (`account_qs_select_for_update`) and read after the lock;
    they are not read again. `first_use`: the caller's own lock proves the key was never used
    (an active gift card is redeemed once), so the replay look-up is skipped; the key's unique
    constraint still refuses a second use. `also`: the caller's own fixed writes
    (wallet/statements.py, returning nothing: a redeemed card's update), written just before
    the transfer's, in the same round trip when it has one shopper account.
    """
    if len(legs) < 2 or any(leg.amount == 0 for leg in legs):
        raise UnbalancedTransfer("a transfer needs two or more non-zero legs")
    account_ids = {leg.account_id for leg in legs}
    with transaction.atomic(savepoint=False):
        known = {a.pk: a for a in accounts if a.pk in account_ids}
        if len(known) != len(account_ids):
            known = _accounts_lock(account_ids)
        if len(known) != len(account_ids):
            raise WalletError("a leg names an account that does not exist")
        if not first_use:
            existing = Transfer.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                return _transfer_replay(existing, legs)

        sums: dict[str, int] = defaultdict(int)
        for leg in legs:
            sums[known[leg.account_id].currency] += leg.amount
        if any(sums.values()):
            raise UnbalancedTransfer(f"legs do not sum to zero: {dict(sums)}")

        customers = {pk: a for pk, a in known.items() if a.kind in CUSTOMER_KINDS}
        balances = {pk: account.balance for pk, account in customers.items()}
        postings = []
        for leg in legs:
            after = None
            if leg.account_id in balances:
                balances[leg.account_id] += leg.amount
                after = balances[leg.account_id]
            postings.append(
                Posting(
                    account_id=leg.account_id,
                    currency=known[leg.account_id].currency,
                    amount=leg.amount,
                    # A shop account's running balance would need its row locked: none.
                    balance_after=after,
                )
            )
        if any(balance < 0 for balance in balances.values()):
            raise InsufficientFunds("the balance is not enough")

        fields = {
            "idempotency_key": idempotency_key,
            "kind": kind,
            "description": description[:200],
            "created_by": created_by,
            "reference": reference[:64] if reference else None,
        }
        # Written as fixed SQL (wallet/statements.py): the ORM's save and bulk writes cost
        # more CPU than the statements themselves.
        transfer = Transfer(created_at=timezone.now(), **fields)
        if len(customers) == 1:
            # The shopper's locked row serialises two uses of one key: the second saw the
            # first's transfer in the replay check above. The transfer, its postings and the
            # shopper's balance are written in one round trip (wallet/statements.py).
            ((pk, account),) = customers.items()
            before, account.balance = account.balance, balances[pk]
            try:
                statements.transfer_with_postings_insert(
                    transfer=transfer, postings=postings, account=account, also=also
                )
            except BaseException:
                account.balance = before  # nothing was written: the caller's copy neither
                raise
            return TransferResult(transfer=transfer, postings=postings, replayed=False)
        for sql, params in also:
            statements.statement_run(sql, params)
        if customers:
            statements.transfer_insert(transfer=transfer)
        else:
            # Only shop legs: nothing is locked, so two uses of one key at once meet on its
            # unique index. The loser waits for the winner's commit and replays it.
            try:
                with transaction.atomic():
                    statements.transfer_insert(transfer=transfer)
            except IntegrityError:
                existing = Transfer.objects.filter(idempotency_key=idempotency_key).first()
                if existing is None:
                    raise
                return _transfer_replay(existing, legs)
        for posting in postings:
            posting.transfer = transfer
        statements.postings_insert(postings=postings)
        for pk, balance in balances.items():
            customers[pk].balance = balance
        if customers:
            Account.objects.bulk_update(list(customers.values()), ["balance"])
    return TransferResult(transfer=transfer, postings=postings, replayed=False)


def _accounts_lock(account_ids: set[int]) -> dict[int, Account]:
    """The legs' accounts: the shoppers' locked first (concurrent transfers on them queue here,
    so their balances and the idempotency check cannot change under us), then the shop's read
    without a lock (a second query only when the transfer has shop legs)."""
    accounts = {a.pk: a for a in account_qs_select_for_update(account_ids=account_ids)}
    rest = account_ids - accounts.keys()
    if rest:
        accounts |= {
            a.pk: a for a in Account.objects.filter(pk__in=rest).exclude(kind__in=CUSTOMER_KINDS)
        }
    return accounts


def _transfer_replay(existing: Transfer, legs: Sequence[Leg]) -> TransferResult:
    postings = list(existing.postings.order_by("pk"))
    if sorted((p.account_id, p.amount) for p in postings) != sorted(
        (leg.account_id, leg.amount) for leg in legs
    ):
        raise IdempotencyConflict(f"key {existing.idempotency_key!r} was used for another movement")
    return TransferResult(transfer=existing, postings=postings, replayed=True)


def wallet_credit(
    *,
    user,
    amount: int,
    idempotency_key: str,
    description: str,
    source: str = Account.Kind.ADJUSTMENTS,
    currency: str | None = None,
    created_by=None,
    kind: str = Transfer.Kind.CREDIT,
    reference: str | None = None,
) -> TransferResult:
    """Add `amount` minor units to the shopper's balance from the shop's `source` account.

    Idempotent on `idempotency_key`. Raises `WalletError` for a non-positive amount.
    """
    if amount <= 0:
        raise WalletError("a credit must be positive")
    with transaction.atomic():
        account = wallet_account_get_or_create(user=user, currency=currency)
        system = system_account_get_or_create(kind=source, currency=account.currency)
        return transfer_create(
            idempotency_key=idempotency_key,
            kind=kind,
            description=description,
            legs=[Leg(system.pk, -amount), Leg(account.pk, amount)],
            created_by=created_by,
            reference=reference,
        )


def wallet_debit(
    *,
    user,
    amount: int,
    idempotency_key: str,
    description: str,
    destination: str = Account.Kind.PURCHASES,
    currency: str | None = None,
    created_by=None,
    kind: str = Transfer.Kind.DEBIT,
    reference: str | None = None,
) -> TransferResult:
    """Take `amount` minor units from the shopper's balance to the shop's `destination` account.

    Idempotent on `idempotency_key`. Raises `InsufficientFunds` when the balance is short and
    `WalletError` for a non-positive amount; either way nothing is written.
    """
    if amount <= 0:
        raise WalletError("a debit must be positive")
    with transaction.atomic():
        account = wallet_account_get_or_create(user=user, currency=currency)
        system = system_account_get_or_create(kind=destination, currency=account.currency)
        return transfer_create(
            idempotency_key=idempotency_key,
            kind=kind,
            description=description,
            legs=[Leg(account.pk, -amount), Leg(system.pk, amount)],
            created_by=created_by,
            reference=reference,
        )
