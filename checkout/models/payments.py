"""How an order was paid and refunded: the card payment as the provider saw it, card holds
released without a capture, and refunds per source (docs/ledger.md)."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from checkout.models.orders import Order
from wallet.units import coins_for_value


class Payment(models.Model):
    """The card part of an order, as the payment provider saw it."""

    class Status(models.TextChoices):
        # Held on the card when the order is written; taken only after commit.
        AUTHORIZED = "authorized", "Authorised (not captured yet)"
        CAPTURED = "captured", "Captured"
        # The capture failed: nothing was taken, and the hold is released.
        FAILED = "failed", "Failed"
        PARTLY_REFUNDED = "partly_refunded", "Partly refunded"
        REFUNDED = "refunded", "Refunded"

    order = models.OneToOneField(Order, on_delete=models.PROTECT, related_name="payment")
    provider = models.CharField(max_length=40)
    reference = models.CharField(max_length=100)
    card_last4 = models.CharField(max_length=4)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.AUTHORIZED)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.provider} {self.reference}"


class VoidedAuthorization(models.Model):
    """A card hold that will never be captured, recorded before the provider is asked to
    release it. A provider replays a key's first hold, so a retry of the same checkout form
    gets a released hold back: this row (not the cache, which may be down) is how checkout
    knows not to build an order on it. A void the provider failed stays here as needing
    attention (the hold lapses at the provider by itself; nothing was captured)."""

    class Reason(models.TextChoices):
        NOT_WRITTEN = "not_written", "Order not written"
        CAPTURE_FAILED = "capture_failed", "Capture failed"

    class Status(models.TextChoices):
        PENDING = "pending", "Void asked (no answer yet)"
        VOIDED = "voided", "Voided"
        VOID_FAILED = "void_failed", "Void failed: needs attention"

    reference = models.CharField(max_length=100, unique=True)
    provider = models.CharField(max_length=40)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    order = models.ForeignKey(
        Order, on_delete=models.PROTECT, null=True, blank=True, related_name="voided_holds"
    )
    reason = models.CharField(max_length=20, choices=Reason.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.provider} {self.reference} ({self.get_status_display()})"

    @property
    def needs_attention(self) -> bool:
        return self.status != self.Status.VOIDED


class Refund(models.Model):
    class Destination(models.TextChoices):
        BALANCE = "balance", "Wallet balance"
        CARD = "card", "Card"

    class CardStatus(models.TextChoices):
        NONE = "none", "No card refund"
        PENDING = "pending", "Sent to the provider, no answer yet"
        SENT = "sent", "Refunded to the card"
        FAILED = "failed", "Provider failed: needs attention"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="refunds")
    from_balance = models.BigIntegerField(
        default=0, help_text="Refund of the part paid from the balance."
    )
    from_card = models.BigIntegerField(default=0, help_text="Refund of the part paid by card.")
    # Of the part coins paid (minor units): returned as coins (`coins_transfer`).
    from_coins = models.BigIntegerField(default=0, help_text="Refund of the part paid by coins.")
    card_destination = models.CharField(
        max_length=10, choices=Destination.choices, default=Destination.CARD
    )
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    provider_reference = models.CharField(max_length=100, blank=True)
    card_status = models.CharField(
        max_length=10, choices=CardStatus.choices, default=CardStatus.NONE
    )
    transfer = models.ForeignKey(
        "wallet.Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # An order paid partly with promotional credit gives its balance part back through the
    # wallet's spend return (credit to its lots); a card part staff send to the balance is
    # then a transfer of its own.
    card_transfer = models.ForeignKey(
        "wallet.Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # A refund of units (`order_refund_units`): {order line id: units returned}, and what it
    # kept back because the units left no longer qualify for a promotion (negative: a
    # claw-back of an earlier refund given back, the units that carried it returned too).
    coins_transfer = models.ForeignKey(
        "wallet.Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    units = models.JSONField(default=dict, blank=True)
    clawed_back = models.BigIntegerField(default=0)
    idempotency_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            # A refund returns something; a refund of units may return nothing (every cent of
            # it clawed back), but it still records the units that came back.
            models.CheckConstraint(
                condition=Q(from_balance__gte=0)
                & Q(from_card__gte=0)
                & Q(from_coins__gte=0)
                & (Q(from_balance__gt=0) | Q(from_card__gt=0) | Q(from_coins__gt=0) | ~Q(units={})),
                name="checkout_refund_positive",
            ),
        ]

    def __str__(self):
        return f"Refund #{self.pk} of {self.order}"

    @property
    def amount(self) -> int:
        """What came back, every source together (coins at what they paid)."""
        return self.from_balance + self.from_card + self.from_coins

    @property
    def coins_returned(self) -> int:
        """The coins that came back for `from_coins` (wallet.units)."""
        return coins_for_value(value=self.from_coins, currency=self.order.currency)
