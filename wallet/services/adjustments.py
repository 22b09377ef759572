"""Staff adjusting a customer balance: applied at once when small, else approved by a second
staff member (docs/interface.md §9). Every adjustment is a `BalanceAdjustment` row; the money
moves only as a ledger transfer against the shop's adjustments account, never by editing a
balance.

A shopper's available reward points and coins adjust the same way, with the same two-person
and no-self rules: their accounts are in their own units (`PTS`, `CNS`, wallet.units), the
other leg is the adjustments account in that unit, and the thresholds are in points and coins.
Pending points are not adjustable: they belong to an order still in its return window and are
released or reversed by its rules (docs/points.md).
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from catalog.money import to_major_text
from wallet.exceptions import (
    IdempotencyConflict,
    InvalidState,
    NotFound,
    OverLimit,
    SelfAction,
    SelfApproval,
    WalletError,
)
from wallet.locks import balanceadjustment_qs_select_for_update, staff_user_qs_select_for_update
from wallet.models import (
    ADJUSTMENT_DESCRIPTION_DEFAULT,
    Account,
    AuditEntry,
    BalanceAdjustment,
    Transfer,
)
from wallet.services.audit import audit_record, refusals_audited, require_perm
from wallet.services.ledger import (
    Leg,
    TransferResult,
    system_account_get_or_create,
    transfer_create,
    unit_account_get_or_create,
)
from wallet.services.thresholds import (
    balance_adjustment_needs_approval,
    balance_adjustment_threshold,
    refuse_limit,
)
from wallet.units import UNITS, format_units

# The shopper accounts staff may adjust: the money balance, available points and coins. Never
# promotional credit (its lots carry expiries; it is granted, not adjusted) nor pending points.
ADJUSTABLE_KINDS = (
    Account.Kind.CUSTOMER,
    Account.Kind.CUSTOMER_POINTS,
    Account.Kind.CUSTOMER_COINS,
)


@dataclass(frozen=True)
class AdjustmentResult:
    """What became of an adjustment: applied (`applied` holds its transfer) or pending."""

    adjustment: BalanceAdjustment
    applied: TransferResult | None
    replayed: bool

    @property
    def pending(self) -> bool:
        return self.adjustment.status == BalanceAdjustment.Status.PENDING

    def balance_after(self, account_id: int) -> int:
        """The balance right after the transfer (only for an applied adjustment)."""
        if self.applied is None:
            raise WalletError("the adjustment has not been applied")
        return self.applied.balance_after(account_id)


def _amount_text(amount: int, *, currency: str) -> str:
    """An amount as the audit log stores it: "12.34 USD" (the admin shows it as money), or
    points and coins in words ("1,250 points")."""
    if currency in UNITS:
        return format_units(amount, unit=currency)
    return f"{to_major_text(amount, currency=currency)} {currency}"


def _describe(adjustment: BalanceAdjustment) -> str:
    amount = _amount_text(abs(adjustment.amount), currency=adjustment.currency)
    direction = "credited" if adjustment.amount > 0 else "debited"
    return f"{amount} {direction}: {adjustment.reason}"


def wallet_adjust(
    *,
    account_id: int | None = None,
    amount: int,
    reason: str,
    idempotency_key: str,
    by,
    description: str = ADJUSTMENT_DESCRIPTION_DEFAULT,
    user_id: int | None = None,
    kind: str | None = None,
) -> AdjustmentResult:
    """Adjust a customer balance by `amount` minor units (signed) with a mandatory reason; or a
    shopper's available points or coins account by `amount` points or coins.

    The account is `account_id`, or the shopper `user_id`'s account of `kind`
    (`customer_points` / `customer_coins`), which is made on first use, inside the adjustment's
    transaction and only once the checks below have passed (a refusal leaves no empty account).

    Two texts: `reason` is the internal note staff and the audit log read; `description` is
    what the shopper reads on their wallet page (the transfer's description; an empty one
    becomes `ADJUSTMENT_DESCRIPTION_DEFAULT`). The note never reaches a shopper's page.

    Within `BALANCE_ADJUSTMENT_APPROVAL_MAX` of the account's currency (points and coins:
    `POINTS_COINS_ADJUSTMENT_APPROVAL_MAX` of their unit) — counting what `by`
    adjusted alone in the last 24 hours, credits and debits alike — it is applied at once as
    an adjustment transfer; above it, it waits for another staff member
    (`balance_adjustment_approve`). Never below zero (`InsufficientFunds`). Idempotent on
    `idempotency_key` (the admin form's hidden key: a double click adjusts once); the same key
    for another adjustment raises `IdempotencyConflict`.

    Raises, audited: `StaffPermissionDenied` without `wallet.adjust_balance`; `SelfAction` on
    the staff member's own balance; `OverLimit` above `REFUSE_ABOVE_THRESHOLD_TIMES` times the
    threshold. Not audited: `WalletError` for a zero amount, a missing reason, a shop account,
    promotional credit or pending points; `NotFound` for no such account.
    """
    target = f"account #{account_id}" if account_id is not None else f"user #{user_id} {kind}"
    with refusals_audited(actor=by, target=target, action="balance adjustment"):
        require_perm(by, "wallet.adjust_balance")
        if not reason.strip():
            raise WalletError("a reason is required")
        if amount == 0:
            raise WalletError("the adjustment must not be zero")
        with transaction.atomic():
            # Lock the requester before measuring what they adjusted alone today (their
            # parallel requests queue here) and before looking for a replay of this form.
            staff_user_qs_select_for_update(user_id=by.pk).get()
            existing = BalanceAdjustment.objects.filter(idempotency_key=idempotency_key).first()
            if existing is not None:
                same = (
                    existing.account_id == account_id
                    if account_id is not None
                    else (existing.account.user_id, existing.account.kind) == (user_id, kind)
                )
                return _adjustment_replay(existing, same_account=same, amount=amount, by=by)
            account = _adjusted_account(account_id=account_id, user_id=user_id, kind=kind, by=by)
            limit = refuse_limit(threshold=balance_adjustment_threshold(currency=account.currency))
            if abs(amount) > limit:
                raise OverLimit(
                    f"an adjustment of more than {_amount_text(limit, currency=account.currency)}"
                    " is refused"
                )
            needs_approval = balance_adjustment_needs_approval(
                amount=amount, currency=account.currency, requested_by=by
            )
            adjustment = BalanceAdjustment.objects.create(
                account=account,
                currency=account.currency,
                amount=amount,
                reason=reason.strip()[:150],
                description=description.strip()[:150] or ADJUSTMENT_DESCRIPTION_DEFAULT,
                requested_by=by,
                idempotency_key=idempotency_key,
            )
            if needs_approval:
                audit_record(
                    actor=by,
                    action=AuditEntry.Action.ADJUSTMENT_REQUESTED,
                    target=f"adjustment #{adjustment.pk}",
                    detail=f"account #{account.pk}, waits for approval: {_describe(adjustment)}",
                )
                return AdjustmentResult(adjustment=adjustment, applied=None, replayed=False)
            applied = _adjustment_apply(adjustment, account=account, approved_by=None)
            audit_record(
                actor=by,
                action=AuditEntry.Action.BALANCE_ADJUSTED,
                target=f"account #{account.pk}",
                detail=_describe(adjustment),
            )
    return AdjustmentResult(adjustment=adjustment, applied=applied, replayed=False)


def _adjusted_account(*, account_id: int | None, user_id: int | None, kind: str | None, by):
    """The account to adjust, checked: a shopper's money, available points or coins, and not
    the staff member's own. A shopper's first points or coins account is made here, after the
    checks."""
    if account_id is not None:
        account = Account.objects.filter(pk=account_id).first()
        if account is None:
            raise NotFound(f"there is no account #{account_id}")
        kind, owner_id = account.kind, account.user_id
    else:
        account, owner_id = None, user_id
        shopper = get_user_model().objects.filter(pk=user_id).first() if user_id else None
        if shopper is None:
            raise NotFound(f"there is no shopper #{user_id}")
    if kind == Account.Kind.CUSTOMER_POINTS_PENDING:
        raise WalletError(
            "pending points cannot be adjusted: they are released or reversed with"
            " their order; adjust the available points instead"
        )
    if kind not in ADJUSTABLE_KINDS or (account is None and kind == Account.Kind.CUSTOMER):
        raise WalletError("only a customer balance, points or coins can be adjusted")
    if owner_id == by.pk:
        raise SelfAction("you cannot adjust your own balance: ask another staff member")
    if account is None:
        account = unit_account_get_or_create(user=shopper, kind=kind)
    return account


def _adjustment_replay(
    adjustment: BalanceAdjustment, *, same_account: bool, amount: int, by
) -> AdjustmentResult:
    if not same_account or (adjustment.amount, adjustment.requested_by_id) != (amount, by.pk):
        raise IdempotencyConflict("this adjustment form was already used for another adjustment")
    applied = None
    if adjustment.transfer_id is not None:
        applied = TransferResult(
            transfer=adjustment.transfer,
            postings=list(adjustment.transfer.postings.all()),
            replayed=True,
        )
    return AdjustmentResult(adjustment=adjustment, applied=applied, replayed=True)


def _adjustment_apply(
    adjustment: BalanceAdjustment, *, account: Account, approved_by
) -> TransferResult:
    """Post the adjustment's transfer and mark it applied (inside the caller's transaction)."""
    system = system_account_get_or_create(kind=Account.Kind.ADJUSTMENTS, currency=account.currency)
    result = transfer_create(
        idempotency_key=adjustment.idempotency_key,
        kind=Transfer.Kind.ADJUSTMENT,
        # The shopper-facing description, never the internal note (`reason`).
        description=adjustment.description or ADJUSTMENT_DESCRIPTION_DEFAULT,
        legs=[Leg(system.pk, -adjustment.amount), Leg(account.pk, adjustment.amount)],
        created_by=adjustment.requested_by,
    )
    adjustment.status = BalanceAdjustment.Status.APPLIED
    adjustment.transfer = result.transfer
    adjustment.approved_by = approved_by
    adjustment.decided_at = timezone.now() if approved_by is not None else None
    adjustment.save(update_fields=["status", "transfer", "approved_by", "decided_at"])
    return result


def _adjustment_locked(adjustment_id: int) -> BalanceAdjustment:
    adjustment = (
        balanceadjustment_qs_select_for_update(adjustment_id=adjustment_id)
        .select_related("account")
        .first()
    )
    if adjustment is None:
        raise NotFound(f"there is no adjustment #{adjustment_id}")
    return adjustment


def balance_adjustment_approve(*, adjustment_id: int, approved_by) -> AdjustmentResult:
    """Approve a pending adjustment, which applies it (its transfer) in the same transaction.

    Raises, audited: `StaffPermissionDenied` without `wallet.approve_balanceadjustment`;
    `SelfApproval` for its requester (a database constraint refuses it too); `SelfAction` when
    the balance is the approver's own. `NotFound`; `InvalidState` unless it is pending;
    `InsufficientFunds` when a debit no longer fits the balance (it stays pending).
    """
    target = f"adjustment #{adjustment_id}"
    with refusals_audited(actor=approved_by, target=target, action="approving an adjustment"):
        require_perm(approved_by, "wallet.approve_balanceadjustment")
        with transaction.atomic():
            adjustment = _adjustment_locked(adjustment_id)
            if adjustment.requested_by_id == approved_by.pk:
                raise SelfApproval("you asked for this adjustment: another staff member approves")
            if adjustment.account.user_id == approved_by.pk:
                raise SelfAction("this is your own balance: another staff member approves")
            if adjustment.status != BalanceAdjustment.Status.PENDING:
                raise InvalidState(f"the adjustment is {adjustment.get_status_display().lower()}")
            applied = _adjustment_apply(
                adjustment, account=adjustment.account, approved_by=approved_by
            )
            audit_record(
                actor=approved_by,
                action=AuditEntry.Action.ADJUSTMENT_APPROVED,
                target=target,
                detail=f"account #{adjustment.account_id}: {_describe(adjustment)}",
            )
    return AdjustmentResult(adjustment=adjustment, applied=applied, replayed=False)


def balance_adjustment_reject(*, adjustment_id: int, rejected_by, reason: str) -> BalanceAdjustment:
    """Turn down a pending adjustment (its requester may also withdraw it); nothing moves.

    Raises `StaffPermissionDenied` (audited) for anyone else without
    `wallet.approve_balanceadjustment`; `NotFound`; `InvalidState` unless it is pending;
    `WalletError` without a reason.
    """
    if not reason.strip():
        raise WalletError("say why the adjustment is rejected")
    target = f"adjustment #{adjustment_id}"
    with (
        refusals_audited(actor=rejected_by, target=target, action="rejecting an adjustment"),
        transaction.atomic(),
    ):
        adjustment = _adjustment_locked(adjustment_id)
        if adjustment.requested_by_id != rejected_by.pk:
            require_perm(rejected_by, "wallet.approve_balanceadjustment")
        if adjustment.status != BalanceAdjustment.Status.PENDING:
            raise InvalidState(f"the adjustment is {adjustment.get_status_display().lower()}")
        adjustment.status = BalanceAdjustment.Status.REJECTED
        adjustment.rejected_by = rejected_by
        adjustment.decided_at = timezone.now()
        adjustment.decision_note = reason.strip()[:200]
        adjustment.save(update_fields=["status", "rejected_by", "decided_at", "decision_note"])
        audit_record(
            actor=rejected_by,
            action=AuditEntry.Action.ADJUSTMENT_REJECTED,
            target=target,
            detail=reason,
        )
    return adjustment
