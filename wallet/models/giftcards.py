"""Gift cards and the batches they are issued in (only a keyed hash of each code is kept)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from wallet.codes import code_mask


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
        # Bought in the shop and paid for, its code not delivered yet (docs/giftcards.md): the
        # code made at issue was thrown away; delivery gives it a new one and activates it.
        PENDING = "pending", "Awaiting delivery"
        ACTIVE = "active", "Active"
        REDEEMED = "redeemed", "Redeemed"
        DISABLED = "disabled", "Disabled"
        # Bought in the shop and refunded to its buyer before anyone redeemed it: never again
        # redeemable (its liability went back with the refund).
        REFUNDED = "refunded", "Refunded"

    # Unique through Meta.constraints, not `unique=True`: that would add PostgreSQL a second,
    # LIKE-pattern index on the hashes, as random as the first, for queries nobody makes; it
    # halved the speed of a bulk issue (docs/interface.md §8). Likewise the indexes below are
    # in Meta.indexes: the staff and shopper columns only where set, as they are empty on every
    # card issued; none on the region (migration 0021): with five regions a filter on one is a
    # fifth of the table, which the database reads in order of id anyway, and the index cost
    # a bulk issue a fifth of the server's work. No foreign key is checked by the
    # database (`db_constraint=False`): PostgreSQL checks each one with a query per inserted
    # row, which cost more than the rest of the insert together; a card's region and batch
    # come from its batch row (itself checked) and its users from the service acting, and
    # every deletion is refused by `on_delete=PROTECT` (migration 0020).
    code_hash = models.CharField(max_length=64)
    last4 = models.CharField(max_length=4)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    region = models.ForeignKey(
        "catalog.Region",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    # Who last disabled or re-enabled it: that staff member may not redeem it (no staff action
    # moves value to the person acting, docs/interface.md §9).
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    expires_on = models.DateField(null=True, blank=True, help_text="Last day it can be redeemed.")
    batch = models.ForeignKey(
        GiftCardBatch,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cards",
        db_constraint=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    redeemed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    redeemed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(
                fields=["redeemed_by"],
                condition=Q(redeemed_by__isnull=False),
                name="wallet_giftcard_redeemed_by",
            ),
            models.Index(
                fields=["status_changed_by"],
                condition=Q(status_changed_by__isnull=False),
                name="wallet_giftcard_status_by",
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["code_hash"], name="wallet_giftcard_code_hash_key"),
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


# What the shopper reads for an adjustment when staff give no other description.
