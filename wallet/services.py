"""Every write to the wallet: ledger transfers, gift card issue and redemption, reports.

Each service owns its transaction and follows lock → check → write inside it: it locks the
rows it is about to change (helpers in `wallet/locks.py`, primary-key order), checks the rule
against what it locked, then writes. Database constraints (non-negative customer balances,
unique idempotency keys, unique code hashes) stand behind every rule as the last guard.
"""

import datetime
import io
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from catalog.models import Region
from catalog.money import parse_amount, to_major_text
from wallet import guessing
from wallet.bulk_insert import giftcards_bulk_insert
from wallet.codefile import code_file_writer, code_rows
from wallet.codes import (
    CodeTypo,
    code_generate,
    code_hash,
    code_hasher,
    code_last4,
    code_normalize,
    codes_generate,
)
from wallet.exceptions import (
    CodeRefused,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidState,
    SelfApproval,
    StaffPermissionDenied,
    UnbalancedTransfer,
    WalletError,
)
from wallet.locks import (
    account_qs_select_for_update,
    giftcard_qs_select_for_update,
    giftcard_qs_select_for_update_by_pk,
    giftcardbatch_qs_select_for_update,
)
from wallet.models import (
    Account,
    ActivityReport,
    AuditEntry,
    GiftCard,
    GiftCardBatch,
    Posting,
    Transfer,
)


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
    kind: str = Transfer.Kind.CREDIT,
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


# Cards are written to the database and handed to the caller (the CSV file) this many at a
# time: memory stays flat whatever the batch size.
ISSUE_CHUNK_SIZE = 25_000
# A batch still `issuing` whose heartbeat is older than this was interrupted.
ISSUE_STALE_AFTER = datetime.timedelta(minutes=2)
MAX_BATCH_SIZE = 10_000_000


@dataclass(frozen=True)
class IssuedChunk:
    """Codes just written to the database, for the caller to hand over (the only copy)."""

    batch: GiftCardBatch
    codes: list[str]


def giftcard_batch_validate(*, count: int, amount: int, expires_on: datetime.date | None) -> None:
    """Refuse a batch that cannot be issued, before anything is written.

    Raises `WalletError` with a one-line reason.
    """
    if count <= 0:
        raise WalletError("--count must be a whole number above zero.")
    if count > MAX_BATCH_SIZE:
        raise WalletError(f"--count above {MAX_BATCH_SIZE:,} is refused; split the campaign.")
    if amount <= 0:
        raise WalletError("the amount must be more than zero.")
    if expires_on is not None and expires_on < timezone.localdate():
        raise WalletError(f"the expiry date {expires_on.isoformat()} is in the past.")


def giftcard_batch_create(
    *,
    name: str,
    region: Region,
    count: int,
    amount: int,
    expires_on: datetime.date | None = None,
    note: str = "",
    created_by=None,
    status: str = GiftCardBatch.Status.ISSUING,
) -> GiftCardBatch:
    """Record a batch about to be issued (or, from the admin, awaiting approval).

    Raises `WalletError` for a count, amount or expiry that cannot be issued.
    """
    giftcard_batch_validate(count=count, amount=amount, expires_on=expires_on)
    now = timezone.now()
    return GiftCardBatch.objects.create(
        name=name[:100],
        region=region,
        currency=region.currency,
        card_count=count,
        amount=amount,
        expires_on=expires_on,
        note=note,
        created_by=created_by,
        status=status,
        heartbeat_at=now if status == GiftCardBatch.Status.ISSUING else None,
    )


def giftcard_batch_issue(*, batch: GiftCardBatch, chunk_size: int = ISSUE_CHUNK_SIZE):
    """Issue the cards of a batch that is `issuing`, yielding an `IssuedChunk` per chunk.

    A generator, so that a command streams codes to a file and the admin to a download while
    memory stays flat. Each chunk is committed as it goes, but the cards redeem only once the
    last chunk is in: then, in one transaction, the batch's whole value moves from the
    gift-card funding account to the outstanding liability and the batch becomes `issued`.
    If the caller stops consuming, or anything fails (disk full, database gone), the batch is
    marked `failed` where possible; a killed process leaves it `issuing`, which redemption
    refuses just the same and `giftcard_batches_fail_interrupted` later names.
    Raises `WalletError` when the batch is not `issuing`.
    """
    if batch.status != GiftCardBatch.Status.ISSUING:
        raise WalletError(f"batch {batch.pk} is {batch.get_status_display().lower()}")
    hasher = code_hasher()
    created_at = timezone.now()
    completed = False
    try:
        remaining = batch.card_count
        while remaining:
            size = min(chunk_size, remaining)
            codes = codes_generate(size)
            with transaction.atomic():
                giftcards_bulk_insert(
                    [(hasher(code), code[-4:]) for code in codes],
                    amount=batch.amount,
                    currency=batch.currency,
                    region_id=batch.region_id,
                    expires_on=batch.expires_on,
                    batch_id=batch.pk,
                    created_at=created_at,
                )
                GiftCardBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now())
            remaining -= size
            yield IssuedChunk(batch=batch, codes=codes)
        _giftcard_batch_complete(batch=batch)
        completed = True
    finally:
        if not completed:
            _giftcard_batch_fail(batch=batch, reason="issue stopped before the last card")


def _giftcard_batch_complete(*, batch: GiftCardBatch) -> None:
    with transaction.atomic():
        locked = giftcardbatch_qs_select_for_update(batch_id=batch.pk).get()
        if locked.status != GiftCardBatch.Status.ISSUING:
            raise WalletError(f"batch {batch.pk} is {locked.get_status_display().lower()}")
        written = GiftCard.objects.filter(batch=locked).count()
        if written != locked.card_count:
            raise WalletError(f"batch {batch.pk} has {written} cards, not {locked.card_count}")
        funding = system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_ISSUED, currency=locked.currency
        )
        outstanding = system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency=locked.currency
        )
        transfer_create(
            idempotency_key=f"giftcard-batch-issue:{locked.pk}",
            kind=Transfer.Kind.GIFTCARD_ISSUE,
            description=f"Gift card batch {locked.name!r}: {locked.card_count} cards issued",
            legs=[Leg(funding.pk, -locked.total), Leg(outstanding.pk, locked.total)],
            created_by=locked.created_by,
        )
        locked.status = GiftCardBatch.Status.ISSUED
        locked.issued_at = timezone.now()
        locked.save(update_fields=["status", "issued_at"])
    batch.status, batch.issued_at = locked.status, locked.issued_at


def _giftcard_batch_fail(*, batch: GiftCardBatch, reason: str) -> None:
    """Best effort: the database may be the thing that failed. Redemption refuses the cards
    of any batch that is not `issued`, so a batch left `issuing` is just as safe."""
    try:
        if GiftCardBatch.objects.filter(pk=batch.pk, status=GiftCardBatch.Status.ISSUING).update(
            status=GiftCardBatch.Status.FAILED, failure=reason[:200]
        ):
            batch.status = GiftCardBatch.Status.FAILED
    except DatabaseError:
        pass


def giftcard_batches_fail_interrupted() -> list[GiftCardBatch]:
    """Mark `failed` every batch left `issuing` by a process that died, and return them.

    Their cards were never redeemable; this makes it visible. Idempotent.
    """
    cutoff = timezone.now() - ISSUE_STALE_AFTER
    stale = list(
        GiftCardBatch.objects.filter(status=GiftCardBatch.Status.ISSUING, heartbeat_at__lt=cutoff)
    )
    for batch in stale:
        GiftCardBatch.objects.filter(pk=batch.pk, status=GiftCardBatch.Status.ISSUING).update(
            status=GiftCardBatch.Status.FAILED, failure="interrupted: the issuing run died"
        )
    return stale


# ---------------------------------------------------------------------------------------------
# Staff actions (the admin). Each checks its own permission, so no other caller can skip it,
# and records an AuditEntry in the same transaction as the change it describes.
# ---------------------------------------------------------------------------------------------


def audit_record(*, actor, action: str, target: str, detail: str = "") -> AuditEntry:
    """Append an audit entry (append-only at the database). Call inside the action's
    transaction so the entry exists exactly when the action does."""
    return AuditEntry.objects.create(
        actor=actor, action=action, target=target[:100], detail=detail[:500]
    )


def _require_perm(user, perm: str) -> None:
    if user is None or not user.is_active or not user.has_perm(perm):
        raise StaffPermissionDenied(f"you need the permission {perm!r} for this")


def giftcard_batch_needs_approval(*, count: int, amount: int, currency: str) -> bool:
    """Above `GIFTCARD_APPROVAL_MAX_CARDS` cards or `GIFTCARD_APPROVAL_MAX_TOTAL` in value
    (major units of the batch's currency), a second staff member must approve."""
    max_total = parse_amount(str(settings.GIFTCARD_APPROVAL_MAX_TOTAL), currency=currency)
    return count > settings.GIFTCARD_APPROVAL_MAX_CARDS or count * amount > max_total


def giftcard_batch_request(
    *,
    name: str,
    region: Region,
    count: int,
    amount: int,
    expires_on: datetime.date | None,
    note: str,
    created_by,
) -> GiftCardBatch:
    """A staff member asks for a batch: approved at once when small, else waits for another.

    Raises `StaffPermissionDenied` without `wallet.issue_giftcardbatch`, `WalletError` for a
    count, amount or expiry that cannot be issued. Nothing is issued until the creator
    downloads the codes (`giftcard_batch_codes_download`).
    """
    _require_perm(created_by, "wallet.issue_giftcardbatch")
    needs_approval = giftcard_batch_needs_approval(
        count=count, amount=amount, currency=region.currency
    )
    with transaction.atomic():
        batch = giftcard_batch_create(
            name=name,
            region=region,
            count=count,
            amount=amount,
            expires_on=expires_on,
            note=note,
            created_by=created_by,
            status=GiftCardBatch.Status.PENDING_APPROVAL
            if needs_approval
            else GiftCardBatch.Status.APPROVED,
        )
        audit_record(
            actor=created_by,
            action=AuditEntry.Action.BATCH_REQUESTED,
            target=f"batch #{batch.pk}",
            detail=f"{count} x {to_major_text(amount, currency=region.currency)} "
            f"{region.currency} ({batch.get_status_display()})",
        )
    return batch


def giftcard_batch_approve(*, batch_id: int, approved_by) -> GiftCardBatch:
    """Approve a batch waiting for approval. Raises `StaffPermissionDenied` without
    `wallet.approve_giftcardbatch`, `SelfApproval` for the batch's own creator (a database
    constraint refuses it too) and `InvalidState` unless the batch is waiting."""
    _require_perm(approved_by, "wallet.approve_giftcardbatch")
    with transaction.atomic():
        batch = giftcardbatch_qs_select_for_update(batch_id=batch_id).get()
        if batch.created_by_id == approved_by.pk:
            raise SelfApproval("you created this batch: another staff member must approve it")
        if batch.status != GiftCardBatch.Status.PENDING_APPROVAL:
            raise InvalidState(f"the batch is {batch.get_status_display().lower()}")
        batch.status = GiftCardBatch.Status.APPROVED
        batch.approved_by = approved_by
        batch.approved_at = timezone.now()
        batch.save(update_fields=["status", "approved_by", "approved_at"])
        audit_record(
            actor=approved_by,
            action=AuditEntry.Action.BATCH_APPROVED,
            target=f"batch #{batch.pk}",
        )
    return batch


def giftcard_batch_reject(*, batch_id: int, rejected_by, reason: str) -> GiftCardBatch:
    """Turn down a batch waiting for approval (its creator may also withdraw it).
    Raises `StaffPermissionDenied`, `InvalidState`, or `WalletError` without a reason."""
    if not reason.strip():
        raise WalletError("say why the batch is rejected")
    with transaction.atomic():
        batch = giftcardbatch_qs_select_for_update(batch_id=batch_id).get()
        if batch.created_by_id != rejected_by.pk:
            _require_perm(rejected_by, "wallet.approve_giftcardbatch")
        if batch.status not in (
            GiftCardBatch.Status.PENDING_APPROVAL,
            GiftCardBatch.Status.APPROVED,
        ):
            raise InvalidState(f"the batch is {batch.get_status_display().lower()}")
        batch.status = GiftCardBatch.Status.REJECTED
        batch.failure = reason.strip()[:200]
        batch.save(update_fields=["status", "failure"])
        audit_record(
            actor=rejected_by,
            action=AuditEntry.Action.BATCH_REJECTED,
            target=f"batch #{batch.pk}",
            detail=reason,
        )
    return batch


def giftcard_batch_codes_download(*, batch_id: int, user):
    """Issue an approved batch and return its codes as CSV text, chunk by chunk — once.

    Only the batch's creator may, and only once: the batch moves to `issuing` (and the
    download is audited) before the first code exists, so a second request, a double click
    or a replay finds it no longer `approved`. The codes exist nowhere else; if the download
    breaks off, the batch is marked `failed` and none of its cards can be redeemed.
    Raises `StaffPermissionDenied` for anyone but its creator with the issue permission, and
    `InvalidState` when the batch is not approved or its codes were already downloaded.
    """
    _require_perm(user, "wallet.issue_giftcardbatch")
    with transaction.atomic():
        batch = giftcardbatch_qs_select_for_update(batch_id=batch_id).get()
        if batch.created_by_id != user.pk:
            raise StaffPermissionDenied("only the batch's creator can download its codes")
        if batch.codes_downloaded_at is not None:
            raise InvalidState("the codes of this batch were already downloaded")
        if batch.status != GiftCardBatch.Status.APPROVED:
            raise InvalidState(f"the batch is {batch.get_status_display().lower()}")
        batch.status = GiftCardBatch.Status.ISSUING
        batch.codes_downloaded_at = batch.heartbeat_at = timezone.now()
        batch.save(update_fields=["status", "codes_downloaded_at", "heartbeat_at"])
        audit_record(
            actor=user,
            action=AuditEntry.Action.BATCH_CODES_DOWNLOADED,
            target=f"batch #{batch.pk}",
            detail=f"{batch.card_count} codes issued and downloaded",
        )
    return _code_file_stream(batch)


def _code_file_stream(batch: GiftCardBatch):
    buffer = io.StringIO()
    writer = code_file_writer(buffer)
    for chunk in giftcard_batch_issue(batch=batch):
        writer.writerows(
            code_rows(
                chunk.codes,
                amount=batch.amount,
                currency=batch.currency,
                region=batch.region_id,
                expires_on=batch.expires_on,
                batch=batch.name,
            )
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def giftcard_status_set(*, card_id: int, status: str, reason: str, by) -> GiftCard:
    """Disable an active card, or re-enable a disabled one, with a reason (audited).

    Raises `StaffPermissionDenied` without `wallet.change_giftcard`, `WalletError` without a
    reason and `InvalidState` for a redeemed card or one already in that state.
    """
    _require_perm(by, "wallet.change_giftcard")
    if not reason.strip():
        raise WalletError("a reason is required")
    transitions = {
        GiftCard.Status.DISABLED: (GiftCard.Status.ACTIVE, AuditEntry.Action.CARD_DISABLED),
        GiftCard.Status.ACTIVE: (GiftCard.Status.DISABLED, AuditEntry.Action.CARD_ENABLED),
    }
    if status not in transitions:
        raise WalletError(f"a card cannot be set to {status!r}")
    required, action = transitions[status]
    with transaction.atomic():
        card = giftcard_qs_select_for_update_by_pk(card_id=card_id).get()
        if card.status != required:
            raise InvalidState(f"the card is {card.get_status_display().lower()}")
        card.status = status
        card.status_reason = reason.strip()[:200]
        card.save(update_fields=["status", "status_reason"])
        audit_record(actor=by, action=action, target=f"gift card #{card.pk}", detail=reason)
    return card


def wallet_adjust(
    *, account_id: int, amount: int, reason: str, idempotency_key: str, by
) -> TransferResult:
    """Adjust a customer balance by `amount` minor units (signed) with a mandatory reason.

    Posts an adjustment transfer against the shop's adjustments account — a balance is never
    edited — and refuses to take the customer below zero (`InsufficientFunds`). Idempotent
    on `idempotency_key` (the admin form's hidden key: a double click adjusts once).
    Raises `StaffPermissionDenied` without `wallet.adjust_balance`, `WalletError` for a zero
    amount, a missing reason or a shop account.
    """
    _require_perm(by, "wallet.adjust_balance")
    if not reason.strip():
        raise WalletError("a reason is required")
    if amount == 0:
        raise WalletError("the adjustment must not be zero")
    with transaction.atomic():
        account = Account.objects.get(pk=account_id)
        if account.kind != Account.Kind.CUSTOMER:
            raise WalletError("only a customer balance can be adjusted")
        system = system_account_get_or_create(
            kind=Account.Kind.ADJUSTMENTS, currency=account.currency
        )
        result = transfer_create(
            idempotency_key=idempotency_key,
            kind=Transfer.Kind.ADJUSTMENT,
            description=f"Balance adjustment: {reason.strip()}",
            legs=[Leg(system.pk, -amount), Leg(account.pk, amount)],
            created_by=by,
        )
        if not result.replayed:
            audit_record(
                actor=by,
                action=AuditEntry.Action.BALANCE_ADJUSTED,
                target=f"account #{account.pk}",
                detail=f"{to_major_text(abs(amount), currency=account.currency)} "
                f"{account.currency} {'credited' if amount > 0 else 'debited'}: {reason}",
            )
    return result


def activity_report_status_set(*, report_id: int, status: str, by) -> ActivityReport:
    """Staff move a shopper's report along (open → investigating → resolved or dismissed).
    Raises `StaffPermissionDenied` without `wallet.change_activityreport`."""
    _require_perm(by, "wallet.change_activityreport")
    if status not in ActivityReport.Status.values:
        raise WalletError(f"unknown status {status!r}")
    ActivityReport.objects.filter(pk=report_id).update(status=status)
    return ActivityReport.objects.get(pk=report_id)
