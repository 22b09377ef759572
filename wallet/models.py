"""The wallet: a double-entry ledger (accounts, transfers, postings) and gift cards.

Every unit of money lives in the ledger. A transfer is one movement made of postings that sum
to zero per currency; postings are never changed or deleted (database triggers refuse it), and
a mistake is corrected by a reversing transfer. Each account caches its balance, which only
the wallet services change, in the same transaction as the postings that explain it.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from wallet.codes import code_mask


class Account(models.Model):
    """A ledger account: a shopper's balance in one currency, or one of the shop's own."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer", "Customer balance"
        GIFTCARDS_ISSUED = "giftcards_issued", "Gift cards issued (funding)"
        GIFTCARDS_OUTSTANDING = "giftcards_outstanding", "Gift cards outstanding (liability)"
        ADJUSTMENTS = "adjustments", "Balance adjustments"
        PURCHASES = "purchases", "Purchases paid from balances"
        CARD_REFUNDS = "card_refunds", "Card payments refunded to balances"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="wallet_accounts",
    )
    currency = models.CharField(max_length=3)
    balance = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        permissions = [("adjust_balance", "Can adjust a customer balance with a reason")]
        constraints = [
            # The last guard against spending money twice: a shopper never owes the shop.
            models.CheckConstraint(
                condition=~Q(kind="customer") | Q(balance__gte=0),
                name="wallet_account_customer_balance_non_negative",
            ),
            models.CheckConstraint(
                condition=(Q(kind="customer") & Q(user__isnull=False))
                | (~Q(kind="customer") & Q(user__isnull=True)),
                name="wallet_account_user_iff_customer",
            ),
            models.UniqueConstraint(
                fields=["user", "currency"],
                condition=Q(kind="customer"),
                name="wallet_account_one_per_customer_currency",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=~Q(kind="customer"),
                name="wallet_account_one_system_per_kind_currency",
            ),
        ]

    def __str__(self):
        owner = self.user.email if self.user_id else self.get_kind_display()
        return f"{owner} · {self.currency}"


class Transfer(models.Model):
    """One movement of money: two or more postings summing to zero per currency."""

    class Kind(models.TextChoices):
        GIFTCARD_ISSUE = "giftcard_issue", "Gift card issued"
        GIFTCARD_REDEEM = "giftcard_redeem", "Gift card redeemed"
        CREDIT = "credit", "Credit"
        DEBIT = "debit", "Debit"
        ADJUSTMENT = "adjustment", "Adjustment"
        REVERSAL = "reversal", "Reversal"
        ORDER_PAYMENT = "order_payment", "Order paid from balance"
        REFUND = "refund", "Refund"

    # A replay with the same key returns the first transfer instead of moving money again.
    idempotency_key = models.CharField(max_length=128, unique=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    description = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()}: {self.description}"


class Posting(models.Model):
    """One leg of a transfer on one account; append-only, carrying the balance after it."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "-id"], name="wallet_posting_account_recent")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_posting_amount_non_zero")
        ]

    def __str__(self):
        return f"{self.account} {self.amount:+d}"


class GiftCardBatch(models.Model):
    """Cards issued together: by an operator's command, or by staff in the admin.

    A batch's cards redeem only once the whole batch is `issued`: a run that dies half-way
    leaves a batch `issuing` (later marked `failed`) whose cards are refused. A batch that
    staff create above the approval threshold waits for a different staff member's approval.
    """

    class Status(models.TextChoices):
        PENDING_APPROVAL = "pending_approval", "Waiting for approval"
        APPROVED = "approved", "Approved, ready to issue"
        ISSUING = "issuing", "Issuing"
        ISSUED = "issued", "Issued"
        FAILED = "failed", "Failed (no card redeemable)"
        REJECTED = "rejected", "Rejected"

    name = models.CharField(max_length=100)
    region = models.ForeignKey("catalog.Region", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    card_count = models.PositiveIntegerField(default=0)
    amount = models.BigIntegerField(default=0, help_text="Value of each card, in minor units.")
    expires_on = models.DateField(null=True, blank=True)
    note = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ISSUING)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    codes_downloaded_at = models.DateTimeField(null=True, blank=True)
    failure = models.CharField(max_length=200, blank=True)
    # Touched after every chunk while issuing: a batch `issuing` whose heartbeat stopped was
    # interrupted (killed, disk full, database gone) and none of its cards can be redeemed.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # The admin request form's hidden key: a double click or a replayed form makes one batch.
    idempotency_key = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "gift card batches"
        permissions = [
            ("issue_giftcardbatch", "Can request and issue gift card batches"),
            ("approve_giftcardbatch", "Can approve gift card batches created by others"),
        ]
        constraints = [
            # Two-person rule: nobody approves a batch they created.
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True)
                | Q(created_by__isnull=True)
                | ~Q(approved_by=models.F("created_by")),
                name="wallet_giftcardbatch_no_self_approval",
            ),
            models.UniqueConstraint(
                fields=["idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="wallet_giftcardbatch_unique_idempotency_key",
            ),
        ]

    def __str__(self):
        return self.name

    @property
    def total(self) -> int:
        return self.card_count * self.amount


class GiftCard(models.Model):
    """A gift card: its value, where it redeems, and its code's keyed hash (never the code)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        REDEEMED = "redeemed", "Redeemed"
        DISABLED = "disabled", "Disabled"

    code_hash = models.CharField(max_length=64, unique=True)
    last4 = models.CharField(max_length=4)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    region = models.ForeignKey("catalog.Region", on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    # Who last disabled or re-enabled it: that staff member may not redeem it (no staff action
    # moves value to the person acting, docs/interface.md §9).
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    expires_on = models.DateField(null=True, blank=True, help_text="Last day it can be redeemed.")
    batch = models.ForeignKey(
        GiftCardBatch, on_delete=models.PROTECT, null=True, blank=True, related_name="cards"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="wallet_giftcard_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(status="redeemed")
                | (Q(redeemed_by__isnull=False) & Q(redeemed_at__isnull=False)),
                name="wallet_giftcard_redeemed_has_redeemer",
            ),
        ]

    def __str__(self):
        return f"{code_mask(self.last4)} ({self.currency})"

    @property
    def masked_code(self) -> str:
        return code_mask(self.last4)


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
    reason = models.CharField(max_length=150)
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


class ActivityReport(models.Model):
    """A shopper's "Report a problem" about one row of their wallet activity."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        INVESTIGATING = "investigating", "Investigating"
        RESOLVED = "resolved", "Resolved"
        DISMISSED = "dismissed", "Dismissed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="activity_reports"
    )
    posting = models.ForeignKey(Posting, on_delete=models.PROTECT, related_name="reports")
    message = models.TextField(max_length=2000)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"Report #{self.pk} by {self.user}"


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
        REGION_CHANGED = "region_changed", "Shopper's region changed"
        CODE_SEARCHED = "code_searched", "Gift card looked up by its code"
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
