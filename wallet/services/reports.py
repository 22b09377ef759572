"""Shoppers' reports about their activity, and staff answering them and moving them along."""

import logging

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from catalog.money import format_money
from config.mail import mail_send
from wallet.exceptions import (
    AlreadyReported,
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
from wallet.selectors import transfer_shopper_description
from wallet.services.audit import audit_record, refusals_audited, require_perm

logger = logging.getLogger(__name__)


def activity_report_create(*, user, posting: Posting, message: str) -> ActivityReport:
    """Record a shopper's "Report a problem" about one of their own activity rows, and e-mail
    them that it was received (after commit, linking to the report's page).

    One report per row and shopper. The caller must have fetched `posting` through
    `wallet.selectors.posting_get_for_user`. Raises `WalletError` for a posting of another
    account or an empty message, and `AlreadyReported` when this shopper already reported the
    row (a database constraint refuses it too, when two arrive at once); nothing is written.
    """
    if posting.account.user_id != user.pk:
        raise WalletError("that activity is not yours")
    message = message.strip()
    if not message:
        raise WalletError("say briefly what looks wrong")
    if ActivityReport.objects.filter(posting=posting, user=user).exists():
        raise AlreadyReported("you have already reported this activity")
    try:
        # A savepoint: a duplicate refused by the constraint leaves the caller's transaction
        # usable (PostgreSQL aborts the whole transaction on an error otherwise).
        with transaction.atomic():
            report = ActivityReport.objects.create(user=user, posting=posting, message=message)
    except IntegrityError:
        raise AlreadyReported("you have already reported this activity") from None
    # After commit: no e-mail for a report that was rolled back, and a slow mail server
    # never holds the transaction open. `robust`: the report stands if sending fails.
    transaction.on_commit(lambda: _report_received_send(report.pk), robust=True)
    return report


def _report_received_send(report_id: int) -> None:
    report = (
        ActivityReport.objects.select_related("user__region", "posting__transfer")
        .filter(pk=report_id)
        .first()
    )
    if report is None:
        return
    posting = report.posting
    context = {
        "report": report,
        "description": transfer_shopper_description(posting.transfer),
        # One minus sign (U+2212) for a debit, as on the wallet page.
        "amount": ("\u2212" if posting.amount < 0 else "+")
        + format_money(
            abs(posting.amount), currency=posting.currency, locale=report.user.region.locale
        ),
        "date": posting.transfer.created_at,
        "action_url": reverse("wallet:report", args=[report.pk]),
        "action_label": "See your report",
    }
    try:
        mail_send(
            to=report.user.email,
            subject=f"[Coinpurse] We received your report #{report.pk}",
            template="wallet/email/report_received",
            context=context,
        )
    except Exception:
        # The report is committed: a mail server's failure must not pass unnoticed.
        logger.exception("report %s: the 'report received' e-mail was not sent", report_id)


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
            report = _report_locked(report_id, by=by)
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


def _report_locked(report_id: int, *, by) -> ActivityReport:
    # Locked, so the audited "old" status (or reply) is the one this change replaced.
    report = activityreport_qs_select_for_update(report_id=report_id).first()
    if report is None:
        raise NotFound(f"there is no report #{report_id}")
    if report.user_id == by.pk:
        raise SelfAction("this is your own report: another staff member handles it")
    return report


def activity_report_reply(*, report_id: int, reply: str, status: str, by) -> ActivityReport:
    """Staff answer a shopper's report: the reply (shown to the shopper on the report's page),
    who answered and when, and the report's status, in one audited change. Answering again
    replaces the reply.

    Raises, audited: `StaffPermissionDenied` without `wallet.change_activityreport`;
    `SelfAction` for the staff member's own report. `NotFound`; `WalletError` for an empty
    reply, one over 2000 characters or an unknown status. Nothing is written on a refusal.
    """
    with refusals_audited(actor=by, target=f"report #{report_id}", action="report reply"):
        require_perm(by, "wallet.change_activityreport")
        reply = reply.strip()
        if not reply:
            raise WalletError("write the reply the shopper will read")
        if len(reply) > 2000:
            raise WalletError("the reply is longer than 2000 characters")
        if status not in ActivityReport.Status.values:
            raise WalletError(f"unknown status {status!r}")
        with transaction.atomic():
            report = _report_locked(report_id, by=by)
            old = report.status
            report.reply = reply
            report.replied_at = timezone.now()
            report.replied_by = by
            report.status = status
            report.save(update_fields=["reply", "replied_at", "replied_by", "status"])
            audit_record(
                actor=by,
                action=AuditEntry.Action.REPORT_REPLIED,
                target=f"report #{report.pk}",
                detail=f"{old} → {status}: {reply}",
            )
    return report
