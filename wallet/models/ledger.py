"""The ledger: accounts, transfers (one movement each) and their append-only postings."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from wallet.units import format_amount

# The account kinds a shopper owns: each has a user and never goes below zero. Money and
# promotional credit are per currency; points (available and pending) and coins are one
# account each per shopper, in their own unit (wallet.units: `PTS`, `CNS`).
CUSTOMER_KINDS = (
    "customer",
    "customer_credit",
    "customer_points",
    "customer_points_pending",
    "customer_coins",
)
# The customer kinds held in a unit of their own rather than the shopper's currency.
CUSTOMER_UNIT_KINDS = ("customer_points", "customer_points_pending", "customer_coins")


class Account(models.Model):
    """A ledger account: a shopper's balance in one currency, or one of the shop's own."""

    class Kind(models.TextChoices):
        CUSTOMER = "customer", "Customer balance"
        # Promotional credit: the shopper's, kept apart from gift card money because it
        # expires (its lots, wallet.models.credit, say how much and when).
        CUSTOMER_CREDIT = "customer_credit", "Customer promotional credit"
        GIFTCARDS_ISSUED = "giftcards_issued", "Gift cards issued (funding)"
        GIFTCARDS_OUTSTANDING = "giftcards_outstanding", "Gift cards outstanding (liability)"
        ADJUSTMENTS = "adjustments", "Balance adjustments"
        PURCHASES = "purchases", "Purchases paid from balances"
        CARD_REFUNDS = "card_refunds", "Card payments refunded to balances"
        CREDIT_ISSUED = "credit_issued", "Promotional credit issued (funding)"
        CREDIT_BREAKAGE = "credit_breakage", "Promotional credit expired (breakage)"
        # Card payments that reloaded a balance (docs/interface.md §12): the card provider's
        # clearing account, money the provider owes the shop.
        CARD_RELOADS = "card_reloads", "Balances reloaded by card (provider clearing)"
        # Reward points and coins (docs/points.md), in their own units (wallet.units).
        CUSTOMER_POINTS = "customer_points", "Customer reward points (available)"
        CUSTOMER_POINTS_PENDING = "customer_points_pending", "Customer reward points (pending)"
        CUSTOMER_COINS = "customer_coins", "Customer coins"
        POINTS_ISSUED = "points_issued", "Reward points issued (funding)"
        POINTS_CONVERTED = "points_converted", "Reward points converted to credit"
        # Money side of a conversion: the funding of the promotional credit points became.
        POINTS_CREDIT = "points_credit", "Promotional credit from reward points (funding)"
        COINS_SOLD = "coins_sold", "Coins sold (funding)"
        COINS_SPENT = "coins_spent", "Coins spent on digital items"

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
        # "Account" alone is read as a shopper's sign-in account in the admin.
        verbose_name = "ledger account"
        permissions = [("adjust_balance", "Can adjust a customer balance with a reason")]
        constraints = [
            # The last guard against spending money (or credit) twice: a shopper never owes
            # the shop, on either of their accounts.
            models.CheckConstraint(
                condition=~Q(kind__in=CUSTOMER_KINDS) | Q(balance__gte=0),
                name="wallet_account_customer_balance_non_negative",
            ),
            # A shop account's balance is not cached on its row (that would make the row a lock
            # every shopper waits on): it is the sum of its postings (docs/ledger.md).
            models.CheckConstraint(
                condition=Q(kind__in=CUSTOMER_KINDS) | Q(balance=0),
                name="wallet_account_shop_balance_not_cached",
            ),
            models.CheckConstraint(
                condition=(Q(kind__in=CUSTOMER_KINDS) & Q(user__isnull=False))
                | (~Q(kind__in=CUSTOMER_KINDS) & Q(user__isnull=True)),
                name="wallet_account_user_iff_customer",
            ),
            models.UniqueConstraint(
                fields=["user", "currency"],
                condition=Q(kind="customer"),
                name="wallet_account_one_per_customer_currency",
            ),
            models.UniqueConstraint(
                fields=["user", "currency"],
                condition=Q(kind="customer_credit"),
                name="wallet_account_one_credit_per_customer_currency",
            ),
            models.UniqueConstraint(
                fields=["user", "kind"],
                condition=Q(kind__in=CUSTOMER_UNIT_KINDS),
                name="wallet_account_one_per_customer_unit",
            ),
            models.UniqueConstraint(
                fields=["kind", "currency"],
                condition=~Q(kind__in=CUSTOMER_KINDS),
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
        CREDIT_GRANT = "credit_grant", "Promotional credit granted"
        CREDIT_EXPIRY = "credit_expiry", "Promotional credit expired"
        RELOAD = "reload", "Balance reloaded by card"
        # A bought gift card refunded before it was redeemed: its liability taken back.
        GIFTCARD_REFUND = "giftcard_refund", "Gift card refunded"
        # Reward points and coins (docs/points.md).
        POINTS_EARN = "points_earn", "Reward points earned (pending)"
        POINTS_RELEASE = "points_release", "Reward points available"
        POINTS_REVERSAL = "points_reversal", "Reward points reversed (refund)"
        POINTS_CONVERT = "points_convert", "Reward points converted to credit"
        COINS_PURCHASE = "coins_purchase", "Coins bought"
        COINS_SPEND = "coins_spend", "Coins spent"
        COINS_RETURN = "coins_return", "Coins returned (refund)"
        COINS_REVERSAL = "coins_reversal", "Coins taken back (coin pack refunded)"

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
    # What the movement is about, for links, as "<kind>:<id>" (e.g. "order:CP-7K2M9QXR"),
    # set by the service that posts it; the wallet page links an order's rows to the order
    # without importing checkout. Nullable on purpose: SQLite then adds the column in place
    # instead of rebuilding this append-only table (which would drop its trigger).
    reference = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"#{self.pk} {self.get_kind_display()}: {self.description}"


class Posting(models.Model):
    """One leg of a transfer on one account; append-only. A shopper's posting carries the
    balance after it; a shop account's carries none (since issue 13: its row is not locked, so
    no running balance is known; its balance is the sum of its postings)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="postings")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="postings")
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField()
    balance_after = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["account", "-id"], name="wallet_posting_account_recent")]
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="wallet_posting_amount_non_zero")
        ]

    def __str__(self):
        # As money, never raw minor units (a "2500" could be read as $2,500).
        sign = "+" if self.amount > 0 else "\u2212"
        return f"{self.account} {sign}{format_amount(abs(self.amount), currency=self.currency)}"
