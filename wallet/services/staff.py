"""Staff actions on gift cards and batches (the admin). Each checks its own permission, so no
other caller can skip it, and records an AuditEntry in the same transaction as the change it
describes; a refusal that says something about the person (no permission, their own request,
too much) is recorded too, on its own (`refusals_audited`). Balance adjustments are in
`wallet.services.adjustments`.
"""

import datetime
import io

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Region
from catalog.money import to_major_text
from wallet.codefile import code_file_writer, code_rows
from wallet.exceptions import (
    IdempotencyConflict,
    InvalidState,
    NotFound,
    OverLimit,
    SelfApproval,
    StaffPermissionDenied,
    WalletError,
)
from wallet.locks import (
    giftcard_qs_select_for_update_by_pk,
    giftcardbatch_qs_select_for_update,
    staff_user_qs_select_for_update,
)
from wallet.models import (
    AuditEntry,
    GiftCard,
    GiftCardBatch,
)
from wallet.services.audit import audit_record, refusals_audited, require_perm
from wallet.services.batches import giftcard_batch_create, giftcard_batch_issue
from wallet.services.thresholds import (
    giftcard_batch_needs_approval,
    giftcard_batch_threshold,
    refuse_limit,
)

__all__ = [
    "giftcard_batch_approve",
    "giftcard_batch_codes_download",
    "giftcard_batch_needs_approval",
    "giftcard_batch_reject",
    "giftcard_batch_request",
    "giftcard_status_set",
]


def giftcard_batch_request(
    *,
    name: str,
    region: Region,
    count: int,
    amount: int,
    expires_on: datetime.date | None,
    note: str,
    created_by,
    idempotency_key: str = "",
) -> GiftCardBatch:
    """A staff member asks for a batch: approved at once when small, else waits for another.

    "Small" counts the creator's batches approved without a second person in the last 24
    hours (`giftcard_batch_needs_approval`): five batches just under the threshold are not
    five small ones. Idempotent on `idempotency_key` (the admin form's hidden key): a double
    click or a replayed form returns the first batch. Nothing is issued until the creator
    downloads the codes (`giftcard_batch_codes_download`).

    Raises `StaffPermissionDenied` without `wallet.issue_giftcardbatch`; `OverLimit` above
    `GIFTCARD_ADMIN_MAX_CARDS` cards (the `issue_giftcards` command issues larger ones) or a
    total far beyond any approval (`thresholds.REFUSE_ABOVE_THRESHOLD_TIMES`); both audited.
    `IdempotencyConflict` when the key was used for another batch; `WalletError` for a count,
    amount or expiry that cannot be issued.
    """
    with refusals_audited(actor=created_by, target="batch request", action="batch request"):
        require_perm(created_by, "wallet.issue_giftcardbatch")
        if count > settings.GIFTCARD_ADMIN_MAX_CARDS:
            raise OverLimit(
                f"the admin issues at most {settings.GIFTCARD_ADMIN_MAX_CARDS:,} cards at a time; "
                "larger batches go through the issue_giftcards command"
            )
        limit = refuse_limit(threshold=giftcard_batch_threshold(currency=region.currency))
        if count * amount > limit:
            raise OverLimit(
                f"a batch worth more than {to_major_text(limit, currency=region.currency)} "
                f"{region.currency} is refused"
            )
        with transaction.atomic():
            # Lock the creator before measuring what they issued alone today: their parallel
            # requests queue here, so each one sees the ones before it (and a double click
            # finds the first batch by its key).
            staff_user_qs_select_for_update(user_id=created_by.pk).get()
            if idempotency_key:
                existing = GiftCardBatch.objects.filter(idempotency_key=idempotency_key).first()
                if existing is not None:
                    return _giftcard_batch_replay(
                        existing, region=region, count=count, amount=amount, created_by=created_by
                    )
            needs_approval = giftcard_batch_needs_approval(
                count=count, amount=amount, currency=region.currency, created_by=created_by
            )
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
                idempotency_key=idempotency_key or "",
            )
            audit_record(
                actor=created_by,
                action=AuditEntry.Action.BATCH_REQUESTED,
                target=f"batch #{batch.pk}",
                detail=f"{count} x {to_major_text(amount, currency=region.currency)} "
                f"{region.currency} ({batch.get_status_display()})",
            )
    return batch


def _giftcard_batch_replay(
    batch: GiftCardBatch, *, region: Region, count: int, amount: int, created_by
) -> GiftCardBatch:
    if (batch.created_by_id, batch.region_id, batch.card_count, batch.amount) != (
        created_by.pk,
        region.pk,
        count,
        amount,
    ):
        raise IdempotencyConflict("this request form was already used for another batch")
    return batch


def _batch_locked(batch_id: int) -> GiftCardBatch:
    batch = giftcardbatch_qs_select_for_update(batch_id=batch_id).first()
    if batch is None:
        raise NotFound(f"there is no batch #{batch_id}")
    return batch


def giftcard_batch_approve(*, batch_id: int, approved_by) -> GiftCardBatch:
    """Approve a batch waiting for approval. Raises `StaffPermissionDenied` without
    `wallet.approve_giftcardbatch` and `SelfApproval` for the batch's own creator (a database
    constraint refuses it too), both audited; `NotFound`, and `InvalidState` unless the batch
    is waiting."""
    with refusals_audited(
        actor=approved_by, target=f"batch #{batch_id}", action="approving a batch"
    ):
        require_perm(approved_by, "wallet.approve_giftcardbatch")
        with transaction.atomic():
            batch = _batch_locked(batch_id)
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
    Raises `StaffPermissionDenied` (audited), `NotFound`, `InvalidState`, or `WalletError`
    without a reason."""
    if not reason.strip():
        raise WalletError("say why the batch is rejected")
    with (
        refusals_audited(
            actor=rejected_by, target=f"batch #{batch_id}", action="rejecting a batch"
        ),
        transaction.atomic(),
    ):
        batch = _batch_locked(batch_id)
        if batch.created_by_id != rejected_by.pk:
            require_perm(rejected_by, "wallet.approve_giftcardbatch")
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
    Raises `StaffPermissionDenied` (audited) for anyone but its creator with the issue
    permission, `NotFound`, and `InvalidState` when the batch is not approved or its codes were
    already downloaded.
    """
    with refusals_audited(actor=user, target=f"batch #{batch_id}", action="downloading codes"):
        require_perm(user, "wallet.issue_giftcardbatch")
        with transaction.atomic():
            batch = _batch_locked(batch_id)
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

    Raises `StaffPermissionDenied` without `wallet.change_giftcard` (audited), `NotFound`,
    `WalletError` without a reason and `InvalidState` for a redeemed card or one already in
    that state.
    """
    with refusals_audited(actor=by, target=f"gift card #{card_id}", action="card status"):
        require_perm(by, "wallet.change_giftcard")
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
        card = giftcard_qs_select_for_update_by_pk(card_id=card_id).first()
        if card is None:
            raise NotFound(f"there is no gift card #{card_id}")
        if card.status != required:
            raise InvalidState(f"the card is {card.get_status_display().lower()}")
        card.status = status
        card.status_reason = reason.strip()[:200]
        card.status_changed_by = by
        card.save(update_fields=["status", "status_reason", "status_changed_by"])
        audit_record(actor=by, action=action, target=f"gift card #{card.pk}", detail=reason)
    return card
