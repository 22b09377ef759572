"""Shoppers' reports about their activity, and staff moving them along."""

from django.db import transaction

from wallet.exceptions import (
    NotFound,
    SelfAction,
    WalletError,
)
from wallet.locks import activityreport_qs_select_for_update
from wallet.models import (
    ActivityReport,
    AuditEntry,
    Posting,
)
from wallet.services.audit import audit_record, refusals_audited, require_perm


def activity_report_create(*, user, posting: Posting, message: str) -> ActivityReport:
    """Record a shopper's "Report a problem" about one of their own activity rows.

    The caller must have fetched `posting` through `wallet.selectors.posting_get_for_user`;
    a posting of another account raises `WalletError`.
    """
    if posting.account.user_id != user.pk:
        raise WalletError("that activity is not yours")
    return ActivityReport.objects.create(user=user, posting=posting, message=message.strip())


def activity_report_status_set(*, report_id: int, status: str, by) -> ActivityReport:
    """Staff move a shopper's report along (open → investigating → resolved or dismissed),
    audited with the old and the new status. Setting the status it already has changes and
    records nothing.

    Raises, audited: `StaffPermissionDenied` without `wallet.change_activityreport`;
    `SelfAction` for a report the staff member filed as a shopper. `NotFound`; `WalletError`
    for an unknown status.
    """
    with refusals_audited(actor=by, target=f"report #{report_id}", action="report status"):
        require_perm(by, "wallet.change_activityreport")
        if status not in ActivityReport.Status.values:
            raise WalletError(f"unknown status {status!r}")
        with transaction.atomic():
            # Locked, so the audited "old" status is the one this change replaced.
            report = activityreport_qs_select_for_update(report_id=report_id).first()
            if report is None:
                raise NotFound(f"there is no report #{report_id}")
            if report.user_id == by.pk:
                raise SelfAction("this is your own report: another staff member handles it")
            old = report.status
            if old == status:
                return report
            report.status = status
            report.save(update_fields=["status"])
            audit_record(
                actor=by,
                action=AuditEntry.Action.REPORT_STATUS_CHANGED,
                target=f"report #{report.pk}",
                detail=f"{old} → {status}",
            )
    return report
