"""What staff do to balances, and the audit log of every staff action."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from wallet.models.ledger import Account, Transfer

ADJUSTMENT_DESCRIPTION_DEFAULT = "Balance adjustment"


class BalanceAdjustment(models.Model):
    """A staff member's adjustment of a customer balance, applied as one ledger transfer.

    Small ones are applied at once (`approved_by` empty); one above the threshold of its
    currency (alone, or with its requester's other auto-applied adjustments of the last 24
    hours) waits `pending` until a different staff member approves it, which applies it in the
    same transaction, or rejects it. There is no separate "approved" state: an approval that
    cannot be applied (a debit the balance no longer covers) is refused and stays pending.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for approval"
        APPLIED = "applied", "Applied"
        REJECTED = "rejected", "Rejected"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="adjustments")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(help_text="Signed, in minor units: a credit is positive.")
    # Two texts: `reason` is the staff-only internal note (audit, admin); `description` is what
    # the shopper reads on their wallet page, the transfer's description.
    reason = models.CharField(max_length=150, verbose_name="internal note")
    description = models.CharField(
        max_length=150,
        default=ADJUSTMENT_DESCRIPTION_DEFAULT,
        verbose_name="shopper-facing description",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(auto_now_add=True, db_index=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    rejected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=200, blank=True)
    transfer = models.OneToOneField(
        Transfer, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The admin form's hidden key: a double click or a replayed form requests once.
    idempotency_key = models.CharField(max_length=128, unique=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("approve_balanceadjustment", "Can approve balance adjustments requested by others")
        ]
        constraints = [
            # Two-person rule, as for batches: nobody approves an adjustment they requested.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=models.F("requested_by")),
                name="wallet_balanceadjustment_no_self_approval",
            ),
            models.CheckConstraint(
                condition=~Q(amount=0), name="wallet_balanceadjustment_amount_non_zero"
            ),
            models.CheckConstraint(
                condition=~Q(status="applied") | Q(transfer__isnull=False),
                name="wallet_balanceadjustment_applied_has_transfer",
            ),
        ]

    def __str__(self):
        return f"Adjustment #{self.pk} of account #{self.account_id} ({self.get_status_display()})"


class AuditEntry(models.Model):
    """A staff action that moved value or revealed codes. Written only by services; no one
    can change or delete it in the admin."""

    class Action(models.TextChoices):
        BATCH_REQUESTED = "batch_requested", "Gift card batch requested"
        BATCH_APPROVED = "batch_approved", "Gift card batch approved"
        BATCH_REJECTED = "batch_rejected", "Gift card batch rejected"
        BATCH_CODES_DOWNLOADED = "batch_codes_downloaded", "Batch issued and codes downloaded"
        CARD_DISABLED = "card_disabled", "Gift card disabled"
        CARD_ENABLED = "card_enabled", "Gift card re-enabled"
        BALANCE_ADJUSTED = "balance_adjusted", "Balance adjusted"
        ADJUSTMENT_REQUESTED = "adjustment_requested", "Balance adjustment requested"
        ADJUSTMENT_APPROVED = "adjustment_approved", "Balance adjustment approved"
        ADJUSTMENT_REJECTED = "adjustment_rejected", "Balance adjustment rejected"
        ORDER_REFUNDED = "order_refunded", "Order refunded"
        PAYMENT_FAILED = "payment_failed", "Card payment failed"
        REPORT_STATUS_CHANGED = "report_status_changed", "Activity report status changed"
        REPORT_REPLIED = "report_replied", "Activity report answered"
        REGION_CHANGED = "region_changed", "Shopper's region changed"
        ORDER_SHIPPED = "order_shipped", "Order marked shipped"
        ORDER_DELIVERED = "order_delivered", "Order marked delivered"
        CODE_SEARCHED = "code_searched", "Gift card looked up by its code"
        PROMOTION_CREATED = "promotion_created", "Promotion created"
        PROMOTION_CHANGED = "promotion_changed", "Promotion changed"
        PROMOTION_APPROVED = "promotion_approved", "Promotion approved"
        PROMOTION_REJECTED = "promotion_rejected", "Promotion rejected"
        PROMOTION_DISABLED = "promotion_disabled", "Promotion disabled"
        GIFTCARD_RESENT = "giftcard_resent", "Bought gift card sent again"
        GIFTCARD_REFUNDED = "giftcard_refunded", "Bought gift card refunded"
        REFUSED = "refused", "Staff action refused"

    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=32, choices=Action.choices)
    target = models.CharField(max_length=100, help_text="What the action was on, e.g. batch #12.")
    detail = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "audit entries"

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor} {self.get_action_display()}"
