"""What the wallet says about a shopper's region change (registered in `WalletConfig.ready`).

A balance is kept per currency and the wallet shows the one of the shopper's region, so a
balance left in the old currency would vanish from every page. The change waits until it is
spent (or moved by staff). Between two regions of one currency (FR and DE) nothing is hidden
and a balance does not stop the change. The wallet also owns the audit log, so it records
every attempt.
"""

from accounts.services import RegionChange
from catalog.money import to_major_text
from wallet.locks import account_qs_select_for_update
from wallet.models import Account, AuditEntry, BalanceAdjustment
from wallet.services.audit import audit_record, audit_refusal_record


def wallet_region_change_guard(change: RegionChange) -> list[str]:
    """Refuse while the shopper has a non-zero balance in any wallet account of the old
    currency. The accounts are locked, so a debit or credit in flight finishes first and is
    seen."""
    if not change.currency_changes:
        return []
    currency = change.old_region.currency
    ids = Account.objects.filter(user=change.user, currency=currency).values_list("pk", flat=True)
    held = [account for account in account_qs_select_for_update(account_ids=ids) if account.balance]
    reasons = [
        f"they hold {to_major_text(account.balance, currency=currency)} {currency} "
        f"({account.get_kind_display().lower()}), which the {change.new_region.code} store "
        "would not show; it must be spent or adjusted to zero first"
        for account in held
    ]
    # An adjustment still waiting for its approver would land, approved, in the old currency.
    if BalanceAdjustment.objects.filter(
        account_id__in=ids, status=BalanceAdjustment.Status.PENDING
    ).exists():
        reasons.append(
            f"a balance adjustment in {currency} is waiting for approval: approve or reject it "
            "first"
        )
    return reasons


def _target(change: RegionChange) -> str:
    return f"user #{change.user.pk} ({change.user.email})"


def wallet_region_change_audit(change: RegionChange, reasons: list[str]) -> None:
    """Audit a region change (`REGION_CHANGED`) or its refusal (`REFUSED`)."""
    moved = f"region {change.old_region.code} → {change.new_region.code}"
    if reasons:
        audit_refusal_record(
            actor=change.by, target=_target(change), detail=f"{moved}: " + "; ".join(reasons)
        )
    else:
        audit_record(
            actor=change.by,
            action=AuditEntry.Action.REGION_CHANGED,
            target=_target(change),
            detail=moved,
        )
