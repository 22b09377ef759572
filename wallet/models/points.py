"""Reward points earned on orders: what each order earned, when it becomes available, and what
a refund took back that the shopper no longer had (docs/points.md).

The points themselves live on the ledger (accounts `customer_points_pending` and
`customer_points`, unit `PTS`); these rows say where the pending ones came from and when each
can be used. The pending account's balance is always the sum of `points - reversed` over the
earnings not yet released (`wallet_reconcile` proves it).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class PointsEarning(models.Model):
    """The points one order earned: `points` when it was delivered, less what refunds took
    back since (`reversed`); pending until `release_at`, then available (`released_at`)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points_earnings"
    )
    # What earned them, as "<kind>:<id>" ("order:CP-7K2M9QXR"): one earning per order.
    reference = models.CharField(max_length=64, unique=True)
    # The order's currency and what of it earned points (minor units), as it was judged.
    currency = models.CharField(max_length=3)
    points = models.BigIntegerField()
    reversed = models.BigIntegerField(default=0)
    release_at = models.DateTimeField()
    released_at = models.DateTimeField(null=True, blank=True)
    earn_transfer = models.OneToOneField(
        "wallet.Transfer", on_delete=models.PROTECT, related_name="points_earning"
    )
    release_transfer = models.OneToOneField(
        "wallet.Transfer",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="points_released",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["release_at", "id"]
        indexes = [
            models.Index(
                fields=["release_at"],
                condition=Q(released_at__isnull=True),
                name="wallet_pointsearning_due",
            ),
            models.Index(
                fields=["user", "release_at"],
                condition=Q(released_at__isnull=True),
                name="wallet_pointsearning_pending",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(points__gt=0), name="wallet_pointsearning_positive"),
            models.CheckConstraint(
                condition=Q(reversed__gte=0) & Q(reversed__lte=F("points")),
                name="wallet_pointsearning_reversed_within",
            ),
        ]

    def __str__(self):
        return f"{self.points} points for {self.reference}"

    @property
    def kept(self) -> int:
        """The points this order still stands for."""
        return self.points - self.reversed

    @property
    def is_pending(self) -> bool:
        return self.released_at is None


class PointsShortfall(models.Model):
    """Points a refund took back that the shopper had already used (converted): owed to the
    shop, taken from their next points as they become available, never a negative balance."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="points_shortfalls"
    )
    reference = models.CharField(max_length=64)  # the refunded order's "order:CP-…"
    points = models.BigIntegerField()
    settled = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["user", "id"],
                condition=Q(settled__lt=F("points")),
                name="wallet_pointsshortfall_open",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(points__gt=0), name="wallet_pointsshortfall_positive"
            ),
            models.CheckConstraint(
                condition=Q(settled__gte=0) & Q(settled__lte=F("points")),
                name="wallet_pointsshortfall_settled_within",
            ),
        ]

    def __str__(self):
        return f"{self.points - self.settled} points owed for {self.reference}"

    @property
    def owed(self) -> int:
        return self.points - self.settled
