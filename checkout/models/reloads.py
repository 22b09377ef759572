"""Reloading a balance by card, and auto-reload (docs/interface.md §12, docs/giftcards.md).

A reload is a card payment whose money becomes balance: one ledger transfer from the card
provider's clearing account (`wallet.Account.Kind.CARD_RELOADS`) to the shopper's balance,
posted only once the provider said the money was taken. A `Reload` row is written before the
provider is asked, keyed, so a retry never charges twice and a reload whose card was charged
but whose credit did not land (the database failed in between) is finished by the worker.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q


class SavedCard(models.Model):
    """A card the shopper saved for auto-reload: the provider's token and the last 4 digits,
    never the number."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_cards"
    )
    provider = models.CharField(max_length=40)
    token = models.CharField(max_length=100)
    card_last4 = models.CharField(max_length=4)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"card …{self.card_last4}"


class AutoReload(models.Model):
    """A shopper's auto-reload: when a purchase leaves the balance below `threshold`, reload
    `amount` on `card` (once per purchase). Off by default; a declined reload turns it off."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="auto_reload"
    )
    enabled = models.BooleanField(default=False)
    threshold = models.BigIntegerField()
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    card = models.ForeignKey(SavedCard, on_delete=models.PROTECT, related_name="+")
    # Why it was turned off by the shop (a declined card), shown to the shopper.
    disabled_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(threshold__gte=0) & Q(amount__gt=0),
                name="checkout_autoreload_amounts",
            ),
        ]

    def __str__(self):
        return f"Auto-reload of {self.user}"


class Reload(models.Model):
    class Kind(models.TextChoices):
        MANUAL = "manual", "Reload"
        AUTO = "auto", "Auto-reload"

    class Status(models.TextChoices):
        # Written before the provider is asked.
        PENDING = "pending", "Pending"
        # The provider took the money; the balance credit did not land yet (the worker
        # finishes it: `card_reloads_pending_complete`).
        CAPTURED = "captured", "Charged, crediting"
        COMPLETED = "completed", "Completed"
        DECLINED = "declined", "Declined"
        FAILED = "failed", "Provider failed"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    # `reload:<form key>` for a reload page POST, `auto-reload:order:<number>` for the
    # auto-reload after that order: once per purchase.
    idempotency_key = models.CharField(max_length=100, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    provider = models.CharField(max_length=40, blank=True)
    reference = models.CharField(max_length=100, blank=True)
    card_last4 = models.CharField(max_length=4, blank=True)
    transfer = models.ForeignKey(
        "wallet.Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    order = models.ForeignKey(
        "checkout.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="checkout_reload_positive"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} #{self.pk}"
