"""Staff actions (the admin). Each checks its own permission, so no other caller can skip it,
and records an AuditEntry in the same transaction as the change it describes.
"""

import datetime
import io

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import Region
from catalog.money import parse_amount, to_major_text
from wallet.codefile import code_file_writer, code_rows
from wallet.exceptions import (
    InvalidState,
    SelfApproval,
    StaffPermissionDenied,
    WalletError,
)
from wallet.locks import (
    giftcard_qs_select_for_update_by_pk,
    giftcardbatch_qs_select_for_update,
)
from wallet.models import (
    Account,
    AuditEntry,
    GiftCard,
    GiftCardBatch,
    Transfer,
)
from wallet.services.audit import audit_record, require_perm
from wallet.services.batches import giftcard_batch_create, giftcard_batch_issue
from wallet.services.ledger import (
    Leg,
    TransferResult,
    system_account_get_or_create,
    transfer_create,
)


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
    require_perm(created_by, "wallet.issue_giftcardbatch")
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
    require_perm(approved_by, "wallet.approve_giftcardbatch")
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
    Raises `StaffPermissionDenied` for anyone but its creator with the issue permission, and
    `InvalidState` when the batch is not approved or its codes were already downloaded.
    """
    require_perm(user, "wallet.issue_giftcardbatch")
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
    require_perm(by, "wallet.adjust_balance")
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
