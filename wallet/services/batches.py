"""Gift card batches: validating, recording and issuing many cards at once."""

import datetime
from dataclasses import dataclass

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from catalog.models import Region
from catalog.regions import region_day_is_over
from wallet.bulk_insert import SecondConnection, giftcards_bulk_insert, giftcards_row_tail
from wallet.code_producer import CodeProducer
from wallet.codes import (
    code_hasher,
    codes_generate,
)
from wallet.exceptions import (
    WalletError,
)
from wallet.locks import (
    giftcardbatch_qs_select_for_update,
)
from wallet.models import (
    Account,
    GiftCard,
    GiftCardBatch,
    Transfer,
)
from wallet.services.ledger import Leg, system_account_get_or_create, transfer_create

# Cards are written to the database and handed to the caller (the CSV file) this many at a
# time: memory stays flat whatever the batch size.
ISSUE_CHUNK_SIZE = 25_000
# A batch issued to a file (the command) has its codes made by a second process, this many
# at a time: SQLite writes its random index pages back at each commit, so fewer, larger
# chunks are much faster there; two chunks in flight stay well under 100 MB.
PRODUCER_CHUNK_SIZE = 100_000
# From this size on, PostgreSQL ingests every other chunk on a second connection at the same
# time (wallet.bulk_insert.SecondConnection): the server's COPY is then the slowest part.
PARALLEL_INSERT_MIN_CARDS = 200_000


# A batch still `issuing` whose heartbeat is older than this was interrupted.
ISSUE_STALE_AFTER = datetime.timedelta(minutes=2)


MAX_BATCH_SIZE = 10_000_000


@dataclass(frozen=True)
class IssuedChunk:
    """Codes just written to the database, for the caller to hand over (the only copy): as a
    list, or, when the batch was issued with a `file_tail`, as the file's rows (`text`)."""

    batch: GiftCardBatch
    codes: list[str] | None
    text: str = ""
    count: int = 0


def giftcard_batch_validate(
    *, region: Region, count: int, amount: int, expires_on: datetime.date | None
) -> None:
    """Refuse a batch that cannot be issued, before anything is written.

    `expires_on` is the cards' last valid day in the region's time zone: a day already over
    there is refused. Raises `WalletError` with a one-line reason.
    """
    if count <= 0:
        raise WalletError("--count must be a whole number above zero.")
    if count > MAX_BATCH_SIZE:
        raise WalletError(f"--count above {MAX_BATCH_SIZE:,} is refused; split the campaign.")
    if amount <= 0:
        raise WalletError("the amount must be more than zero.")
    if expires_on is not None and region_day_is_over(region, expires_on):
        raise WalletError(
            f"the expiry date {expires_on.isoformat()} is in the past in {region.code} "
            f"({region.time_zone})."
        )


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
    idempotency_key: str = "",
) -> GiftCardBatch:
    """Record a batch about to be issued (or, from the admin, awaiting approval), under the
    admin form's `idempotency_key` when there is one (unique: one batch per form).

    Raises `WalletError` for a count, amount or expiry that cannot be issued.
    """
    giftcard_batch_validate(region=region, count=count, amount=amount, expires_on=expires_on)
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
        idempotency_key=idempotency_key,
    )


def giftcard_batch_issue(
    *, batch: GiftCardBatch, chunk_size: int | None = None, file_tail: str | None = None
):
    """Issue the cards of a batch that is `issuing`, yielding an `IssuedChunk` per chunk.

    A generator, so that a command streams codes to a file and the admin to a download while
    memory stays flat. Each chunk is committed as it goes, but the cards redeem only once the
    last chunk is in: then, in one transaction, the batch's whole value moves from the
    gift-card funding account to the outstanding liability and the batch becomes `issued`.
    With `file_tail` (the rest of a file row after the code, `wallet.codefile.code_row_tail`)
    a second process makes the codes while this one writes them, and each chunk carries the
    file's rows instead of a list (docs/interface.md §8).
    If the caller stops consuming, or anything fails (disk full, database gone, the code
    process killed), the batch is marked `failed` where possible; a killed process leaves it
    `issuing`, which redemption refuses just the same and `giftcard_batches_fail_interrupted`
    later names.
    Raises `WalletError` when the batch is not `issuing`.
    """
    if batch.status != GiftCardBatch.Status.ISSUING:
        raise WalletError(f"batch {batch.pk} is {batch.get_status_display().lower()}")
    values = {
        "amount": batch.amount,
        "currency": batch.currency,
        "region_id": batch.region_id,
        "expires_on": batch.expires_on,
        "batch_id": batch.pk,
        "created_at": timezone.now(),
    }
    completed = False
    producer = second = None
    try:
        if file_tail is None:
            chunks = _chunks_inline(batch.card_count, chunk_size or ISSUE_CHUNK_SIZE)
        else:
            producer = CodeProducer(
                count=batch.card_count,
                chunk_size=chunk_size or PRODUCER_CHUNK_SIZE,
                key=settings.CODE_PEPPER.encode(),
                vendor=connection.vendor,
                file_tail=file_tail,
                row_tail=giftcards_row_tail(**values),
            )
            chunks = ((None, chunk) for chunk in producer)
            if connection.vendor == "postgresql" and batch.card_count >= PARALLEL_INSERT_MIN_CARDS:
                second = SecondConnection(**values)
        pending = None  # (the second connection's insert, its chunk)
        for codes, rows in chunks:
            if second is not None and pending is None:
                pending = (second.submit(rows), rows)
                continue
            with transaction.atomic():
                giftcards_bulk_insert(rows, **values)
                GiftCardBatch.objects.filter(pk=batch.pk).update(heartbeat_at=timezone.now())
            if pending is not None:  # the earlier chunk: handed over first, once committed
                pending[0].result()
                yield _issued(batch, None, pending[1])
                pending = None
            yield _issued(batch, codes, rows)
        if pending is not None:
            pending[0].result()
            yield _issued(batch, None, pending[1])
        _giftcard_batch_complete(batch=batch)
        completed = True
    finally:
        if second is not None:
            second.close()
        if producer is not None:
            producer.close()
        if not completed:
            _giftcard_batch_fail(batch=batch, reason="issue stopped before the last card")


def _issued(batch: GiftCardBatch, codes: list[str] | None, rows) -> IssuedChunk:
    text = "" if codes is not None else rows.text
    return IssuedChunk(batch=batch, codes=codes, text=text, count=len(rows))


def _chunks_inline(count: int, chunk_size: int):
    """(codes, (hash, last 4) pairs) per chunk, made in this process."""
    hasher = code_hasher()
    remaining = count
    while remaining:
        size = min(chunk_size, remaining)
        codes = codes_generate(size)
        yield codes, [(hasher(code), code[-4:]) for code in codes]
        remaining -= size


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
