"""Shoppers' reports about their activity, and staff moving them along."""

from wallet.exceptions import (
    WalletError,
)
from wallet.models import (
    ActivityReport,
    Posting,
)
from wallet.services.audit import require_perm


def activity_report_create(*, user, posting: Posting, message: str) -> ActivityReport:
    """Record a shopper's "Report a problem" about one of their own activity rows.

    The caller must have fetched `posting` through `wallet.selectors.posting_get_for_user`;
    a posting of another account raises `WalletError`.
    """
    if posting.account.user_id != user.pk:
        raise WalletError("that activity is not yours")
    return ActivityReport.objects.create(user=user, posting=posting, message=message.strip())


def activity_report_status_set(*, report_id: int, status: str, by) -> ActivityReport:
    """Staff move a shopper's report along (open → investigating → resolved or dismissed).
    Raises `StaffPermissionDenied` without `wallet.change_activityreport`."""
    require_perm(by, "wallet.change_activityreport")
    if status not in ActivityReport.Status.values:
        raise WalletError(f"unknown status {status!r}")
    ActivityReport.objects.filter(pk=report_id).update(status=status)
    return ActivityReport.objects.get(pk=report_id)
