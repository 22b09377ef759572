"""Promotional credit: lots of credit that expire, and what each spend took from them.

Credit is value of its own, beside gift card money: a shopper's credit lives on their
`customer_credit` account, and each lot says how much of that balance came from one grant,
how much of it is left and when it ends. The account balance always equals the sum of its
lots' `remaining` (`wallet_reconcile` proves it). Gift card money has no lot and never expires.
"""

import datetime

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from catalog.money import format_money

# Credit without expiry (reward points converted, docs/points.md): a last day no calendar
# reaches, so "soonest-expiring first" spends it last and no expiry run ever finds it, with
# every query and index of the lots unchanged. Pages show "No expiry", never this date.
CREDIT_NO_EXPIRY_ON = datetime.date(9999, 12, 30)
CREDIT_NO_EXPIRY_AT = datetime.datetime(9999, 12, 31, tzinfo=datetime.UTC)


class CreditLot(models.Model):
    """One grant of promotional credit: `amount` minor units, `remaining` still spendable
    until the end of `expires_on` in the shopper's region (`expires_at`, that instant)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="credit_lots"
    )
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    remaining = models.BigIntegerField()
    # The last day, as the shopper reads it, in their region's time zone...
    expires_on = models.DateField()
    # ...and the instant that day ends there (catalog.regions.region_day_end), computed once at
    # the grant, so "is it expired?" is one comparison in SQL, whatever the region.
    expires_at = models.DateTimeField()
    # Category ids this credit may pay for; empty: anything. A list in the lot's own row (not a
    # many-to-many) so the balance and every lot are read in one query on every page.
    category_ids = models.JSONField(default=list, blank=True)
    description = models.CharField(max_length=200)
    # What granted it, as "<kind>:<id>" (e.g. "promotion:credit10").
    reference = models.CharField(max_length=64, blank=True, default="")
    grant_transfer = models.OneToOneField(
        "wallet.Transfer", on_delete=models.PROTECT, related_name="credit_lot"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expires_at", "id"]
        indexes = [
            models.Index(
                fields=["user", "currency", "expires_at"],
                condition=Q(remaining__gt=0),
                name="wallet_creditlot_spendable",
            ),
            models.Index(
                fields=["expires_at"],
                condition=Q(remaining__gt=0),
                name="wallet_creditlot_to_expire",
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_creditlot_positive"),
            models.CheckConstraint(
                condition=Q(remaining__gte=0) & Q(remaining__lte=F("amount")),
                name="wallet_creditlot_remaining_within",
            ),
        ]

    def __str__(self):
        left = format_money(self.remaining, currency=self.currency)
        if self.never_expires:
            return f"credit #{self.pk}: {left} left, no expiry"
        return f"credit #{self.pk}: {left} left until {self.expires_on:%Y-%m-%d}"

    @property
    def never_expires(self) -> bool:
        return self.expires_on >= CREDIT_NO_EXPIRY_ON


class WalletSpend(models.Model):
    """One payment from a wallet (`wallet_spend`): its transfer, the credit and money parts,
    and how much of it has been given back (`wallet_spend_return`)."""

    transfer = models.OneToOneField(
        "wallet.Transfer", on_delete=models.PROTECT, related_name="wallet_spend"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    credit = models.BigIntegerField()
    money = models.BigIntegerField()
    returned = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit__gte=0) & Q(money__gte=0) & (Q(credit__gt=0) | Q(money__gt=0)),
                name="wallet_walletspend_parts",
            ),
            models.CheckConstraint(
                condition=Q(returned__gte=0) & Q(returned__lte=F("credit") + F("money")),
                name="wallet_walletspend_returned_within",
            ),
        ]

    def __str__(self):
        return f"spend #{self.pk} (transfer #{self.transfer_id})"


class CreditLotSpend(models.Model):
    """What one spend took from one lot, and how much of that went back to the lot."""

    spend = models.ForeignKey(WalletSpend, on_delete=models.PROTECT, related_name="lot_spends")
    lot = models.ForeignKey(CreditLot, on_delete=models.PROTECT, related_name="spends")
    transfer = models.ForeignKey("wallet.Transfer", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    returned = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["spend", "lot"], name="wallet_creditlotspend_once"),
            models.CheckConstraint(
                condition=Q(amount__gt=0) & Q(returned__gte=0) & Q(returned__lte=F("amount")),
                name="wallet_creditlotspend_returned_within",
            ),
        ]

    def __str__(self):
        return f"lot #{self.lot_id} in spend #{self.spend_id}"
