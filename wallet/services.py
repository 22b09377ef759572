"""Every write to the wallet: ledger transfers, gift card issue and redemption, reports.

Each service owns its transaction and follows lock → check → write inside it: it locks the
rows it is about to change (helpers in `wallet/locks.py`, primary-key order), checks the rule
against what it locked, then writes. Database constraints (non-negative customer balances,
unique idempotency keys, unique code hashes) stand behind every rule as the last guard.
"""

import datetime
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from catalog.models import Region
from wallet import guessing
from wallet.codes import CodeTypo, code_generate, code_hash, code_last4, code_normalize
from wallet.exceptions import (
    CodeRefused,
    IdempotencyConflict,
    InsufficientFunds,
    UnbalancedTransfer,
    WalletError,
)
from wallet.locks import account_qs_select_for_update, giftcard_qs_select_for_update
from wallet.models import Account, ActivityReport, GiftCard, GiftCardBatch, Posting, Transfer


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


@dataclass(frozen=True)
class IssuedGiftCard:
    card: GiftCard
    code: str  # the only time the full code exists outside the person holding the card


@dataclass(frozen=True)
class Redemption:
    card: GiftCard
    transfer: Transfer
    balance: int
    currency: str


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


def system_account_get_or_create(*, kind: str, currency: str) -> Account:
    """The shop's own account of `kind` in `currency`, made on first use. Idempotent."""
    if kind == Account.Kind.CUSTOMER:
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
) -> TransferResult:
    """Post one transfer: lock its accounts, check, then write the postings and balances.

    Idempotent on `idempotency_key`: a replay of the same legs returns the first transfer
    (`replayed=True`) and moves nothing. Raises `UnbalancedTransfer` when the legs do not sum
    to zero per currency, `InsufficientFunds` when a customer balance would go below zero and
    `IdempotencyConflict` when the key was used for different legs. Runs in the caller's
    transaction when there is one (no savepoint: a refusal aborts the caller's work too).
    """
    if len(legs) < 2 or any(leg.amount == 0 for leg in legs):
        raise UnbalancedTransfer("a transfer needs two or more non-zero legs")
    with transaction.atomic(savepoint=False):
        # Lock first: concurrent transfers on the same accounts queue here, so the balances
        # and the idempotency check below cannot change under us.
        accounts = {
            a.pk: a
            for a in account_qs_select_for_update(account_ids={leg.account_id for leg in legs})
        }
        if len(accounts) != len({leg.account_id for leg in legs}):
            raise WalletError("a leg names an account that does not exist")
        existing = Transfer.objects.filter(idempotency_key=idempotency_key).first()
        if existing is not None:
            return _transfer_replay(existing, legs)

        sums: dict[str, int] = defaultdict(int)
        for leg in legs:
            sums[accounts[leg.account_id].currency] += leg.amount
        if any(sums.values()):
            raise UnbalancedTransfer(f"legs do not sum to zero: {dict(sums)}")

        balances = {pk: account.balance for pk, account in accounts.items()}
        postings = []
        for leg in legs:
            balances[leg.account_id] += leg.amount
            postings.append(
                Posting(
                    account_id=leg.account_id,
                    currency=accounts[leg.account_id].currency,
                    amount=leg.amount,
                    balance_after=balances[leg.account_id],
                )
            )
        for pk, balance in balances.items():
            if accounts[pk].kind == Account.Kind.CUSTOMER and balance < 0:
                raise InsufficientFunds("the balance is not enough")

        transfer = Transfer.objects.create(
            idempotency_key=idempotency_key,
            kind=kind,
            description=description[:200],
            created_by=created_by,
        )
        for posting in postings:
            posting.transfer = transfer
        Posting.objects.bulk_create(postings)
        for pk, balance in balances.items():
            accounts[pk].balance = balance
        Account.objects.bulk_update(list(accounts.values()), ["balance"])
    return TransferResult(transfer=transfer, postings=postings, replayed=False)


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
            kind=Transfer.Kind.CREDIT,
            description=description,
            legs=[Leg(system.pk, -amount), Leg(account.pk, amount)],
            created_by=created_by,
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
            kind=Transfer.Kind.DEBIT,
            description=description,
            legs=[Leg(account.pk, -amount), Leg(system.pk, amount)],
            created_by=created_by,
        )


def giftcard_issue(
    *,
    region: Region,
    amount: int,
    expires_on: datetime.date | None = None,
    batch: GiftCardBatch | None = None,
    created_by=None,
) -> IssuedGiftCard:
    """Issue one gift card of `amount` minor units in `region`'s currency.

    Its value moves from the shop's gift-card funding account to the outstanding gift card
    liability, so the ledger always reconciles. Returns the full code, which is never stored
    and must be handed over now. Raises `WalletError` for a non-positive amount or a past
    expiry date.
    """
    if amount <= 0:
        raise WalletError("a gift card's amount must be positive")
    if expires_on is not None and expires_on < timezone.localdate():
        raise WalletError("the expiry date is in the past")
    code = code_generate()
    currency = region.currency
    with transaction.atomic():
        card = GiftCard.objects.create(
            code_hash=code_hash(code),
            last4=code_last4(code),
            amount=amount,
            currency=currency,
            region=region,
            expires_on=expires_on,
            batch=batch,
        )
        funding = system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_ISSUED, currency=currency
        )
        outstanding = system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency=currency
        )
        transfer_create(
            idempotency_key=f"giftcard-issue:{card.pk}",
            kind=Transfer.Kind.GIFTCARD_ISSUE,
            description=f"Gift card …{card.last4} issued",
            legs=[Leg(funding.pk, -amount), Leg(outstanding.pk, amount)],
            created_by=created_by,
        )
    return IssuedGiftCard(card=card, code=code)


def giftcard_redeem(*, user, code: str, ip: str | None = None) -> Redemption:
    """Redeem a claim code into the shopper's balance, at once and exactly once.

    Raises `CodeRefused` with the reason of CONTRACT §6 (`typo`, `not_found`,
    `already_redeemed`, `expired`, `disabled`, `wrong_region`, `locked`); a refusal writes
    nothing to the database and counts towards the guessing limits of the account and the IP
    address. Concurrent redemptions of one code queue on the card's row lock: the first wins,
    the rest see it redeemed. A unique idempotency key per card guards the ledger as well.
    """
    if guessing.redemption_is_locked(user_id=user.pk, ip=ip):
        raise CodeRefused("locked")
    try:
        return _giftcard_redeem(user=user, code=code)
    except CodeRefused:
        guessing.redemption_failure_record(user_id=user.pk, ip=ip)
        raise


def _giftcard_redeem(*, user, code: str) -> Redemption:
    try:
        canonical = code_normalize(code)
    except CodeTypo:
        raise CodeRefused("typo") from None
    with transaction.atomic():
        card = giftcard_qs_select_for_update(code_hash=code_hash(canonical)).first()
        if card is None:
            raise CodeRefused("not_found")
        if card.status == GiftCard.Status.REDEEMED:
            raise CodeRefused("already_redeemed")
        if card.status == GiftCard.Status.DISABLED or (
            card.batch is not None and card.batch.status != GiftCardBatch.Status.ISSUED
        ):
            raise CodeRefused("disabled")
        if card.expires_on is not None and card.expires_on < timezone.localdate():
            raise CodeRefused("expired")
        if card.region_id != user.region_id:
            raise CodeRefused("wrong_region")

        account = wallet_account_get_or_create(user=user, currency=card.currency)
        outstanding = system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency=card.currency
        )
        result = transfer_create(
            idempotency_key=f"giftcard-redeem:{card.pk}",
            kind=Transfer.Kind.GIFTCARD_REDEEM,
            description=f"Gift card …{card.last4} redeemed",
            legs=[Leg(outstanding.pk, -card.amount), Leg(account.pk, card.amount)],
        )
        card.status = GiftCard.Status.REDEEMED
        card.redeemed_by = user
        card.redeemed_at = timezone.now()
        card.save(update_fields=["status", "redeemed_by", "redeemed_at"])
    return Redemption(
        card=card,
        transfer=result.transfer,
        balance=result.balance_after(account.pk),
        currency=card.currency,
    )


def activity_report_create(*, user, posting: Posting, message: str) -> ActivityReport:
    """Record a shopper's "Report a problem" about one of their own activity rows.

    The caller must have fetched `posting` through `wallet.selectors.posting_get_for_user`;
    a posting of another account raises `WalletError`.
    """
    if posting.account.user_id != user.pk:
        raise WalletError("that activity is not yours")
    return ActivityReport.objects.create(user=user, posting=posting, message=message.strip())
