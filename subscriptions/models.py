"""Subscribe & Save (docs/subscriptions.md): a product delivered again every 1, 2, 3 or 6
months, each delivery an ordinary order placed by `subscriptions_run`.

A subscription's deliveries fall on its *periods*: period n is due on `anchor_date` plus
n x `every` months (subscriptions.periods), so a subscription started on 31 January delivers on
28 (29) February, 31 March, 30 April… and never drifts. `next_date` is the due date of period
`period_index`, the next one to deliver; one `SubscriptionPeriod` row per period says what
became of it (placed with its order, skipped, failed), and its uniqueness is the database's
guard that a period is delivered at most once.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

EVERY_CHOICES = [
    (1, "Every month"),
    (2, "Every 2 months"),
    (3, "Every 3 months"),
    (6, "Every 6 months"),
]
QUANTITY_MAX = 20


class Subscription(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        CANCELLED = "cancelled", "Cancelled"

    class PauseReason(models.TextChoices):
        NONE = "", "—"
        SHOPPER = "shopper", "Paused by the shopper"
        UNAVAILABLE = "unavailable", "Product no longer sold"
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        ADDRESS = "address", "No delivery address"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscriptions"
    )
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    # The region (and so the currency and time zone) it was started in: a shopper's region
    # changes only without subscriptions that are not cancelled (subscriptions.region_change).
    region = models.ForeignKey("catalog.Region", on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveSmallIntegerField()
    every = models.PositiveSmallIntegerField(choices=EVERY_CHOICES)
    # Period 0's due date: its day of the month is the one every delivery aims for.
    anchor_date = models.DateField()
    period_index = models.PositiveIntegerField(default=0)
    next_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    pause_reason = models.CharField(
        max_length=20, choices=PauseReason.choices, default="", blank=True
    )
    # Where and how it is delivered and paid; each falls back to the shopper's default
    # address and newest saved card at delivery time when gone.
    address = models.ForeignKey(
        "accounts.Address", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    card = models.ForeignKey(
        "checkout.SavedCard", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Failed payment attempts of the period due (`next_date`); 0 once it is placed or skipped.
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    # Every try to place an order for this subscription that ended without one (a payment
    # refused, a capture failed, the balance changed under the lock, paused meanwhile): never
    # reset, it makes each try's idempotency key new (services/deliveries.py), while two runs
    # at once read the same count and so share one key, one card hold and one order.
    tries = models.PositiveIntegerField(default=0)
    # The region's day of the last failed payment attempt: a failed period is tried again at
    # most once a day (on a later day), however often the run is started.
    last_attempt_on = models.DateField(null=True, blank=True)
    # The due date whose reminder e-mail went (one reminder per period).
    reminded_for = models.DateField(null=True, blank=True)
    # The unit price (after the Subscribe & Save discount) of the last delivery placed: a
    # reminder says when the next one costs otherwise.
    last_unit_price = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The run's look-up: the active subscriptions due by a date.
            models.Index(fields=["status", "next_date"], name="subscriptions_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=QUANTITY_MAX),
                name="subscriptions_quantity_range",
            ),
            models.CheckConstraint(
                condition=Q(every__in=[1, 2, 3, 6]), name="subscriptions_every_choices"
            ),
            models.CheckConstraint(
                condition=Q(status="paused") | Q(pause_reason=""),
                name="subscriptions_pause_reason_iff_paused",
            ),
            # One subscription per shopper and product that is not cancelled (a double submit
            # makes one).
            models.UniqueConstraint(
                fields=["user", "product"],
                condition=~Q(status="cancelled"),
                name="subscriptions_one_per_product",
            ),
        ]

    def __str__(self):
        return f"Subscription {self.pk} of {self.user}"


class SubscriptionPeriod(models.Model):
    """What became of one period of a subscription (the run history shown to staff)."""

    class Status(models.TextChoices):
        PLACED = "placed", "Order placed"
        SKIPPED = "skipped", "Skipped by the shopper"
        FAILED = "failed", "Payment failed"
        UNAVAILABLE = "unavailable", "Not placed: product no longer sold"

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="periods")
    index = models.PositiveIntegerField()
    due_date = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices)
    order = models.OneToOneField(
        "checkout.Order", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Failed payment attempts (each with an e-mail); the last refusal's words.
    attempts = models.PositiveSmallIntegerField(default=0)
    message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-due_date", "-id"]
        constraints = [
            # A period is delivered at most once, whatever runs at once.
            models.UniqueConstraint(
                fields=["subscription", "index"], name="subscriptions_period_once"
            ),
            models.CheckConstraint(
                condition=Q(status="placed", order__isnull=False) | ~Q(status="placed"),
                name="subscriptions_period_placed_has_order",
            ),
        ]

    def __str__(self):
        return f"{self.subscription} period {self.index} ({self.due_date})"
