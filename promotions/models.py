"""Promotions (docs/interface.md §11, the rules in docs/promotions.md).

A promotion is one offer: a kind (what it gives), a target (what it applies to), conditions
(when and for whom), limits (how often, how much in total) and its codes. Amounts that depend
on the currency (a fixed discount, a minimum, a cap, a budget, a credit) live in
`PromotionAmount`, one row per currency; percentages and counts are the same everywhere.
Amounts are integer minor units of that currency.

Usage is counted where it can be guarded: `Promotion.uses_count` by a guarded update against
`total_limit`, a currency's budget on its `PromotionAmount` row (locked, then trimmed), a
single-use code on its `PromotionCode` row; one `PromotionRedemption` per use, written inside
the order's transaction, with constraints standing behind each limit.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Promotion(models.Model):
    class Kind(models.TextChoices):
        PERCENT = "percent", "Percent off"
        FIXED = "fixed", "Fixed amount off"
        FREE_SHIPPING = "free_shipping", "Free standard shipping"
        BUY_X_GET_Y = "buy_x_get_y", "Buy X get Y"
        CREDIT = "credit", "Promotional credit"
        # "Buy gift cards worth at least X, receive Y promotional credit" (docs/promotions.md):
        # the minimum is `PromotionAmount.minimum_subtotal` (of the gift cards), the credit
        # `amount_off`; granted once the order is paid (`GiftCardBonus`).
        GIFTCARD_BONUS = "giftcard_bonus", "Gift card bonus credit"

    class Target(models.TextChoices):
        ORDER = "order", "The whole order"
        ITEMS = "items", "Some categories or products"
        SHIPPING = "shipping", "Shipping"

    class Codes(models.TextChoices):
        VANITY = "vanity", "One public code (e.g. WELCOME10)"
        UNIQUE = "unique", "Unique single-use codes (issue_promocodes)"
        AUTOMATIC = "automatic", "No code: applied automatically"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        PENDING_APPROVAL = "pending_approval", "Waiting for approval"
        DISABLED = "disabled", "Disabled"
        REJECTED = "rejected", "Rejected"

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    description = models.CharField(max_length=200, blank=True, help_text="Shown to shoppers.")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    target = models.CharField(max_length=10, choices=Target.choices, default=Target.ORDER)
    codes = models.CharField(max_length=10, choices=Codes.choices, default=Codes.VANITY)
    # The vanity code as shoppers type it, canonical (promotions.codes.promo_code_normalize);
    # it is public. It is looked up by its hash like every other code (`PromotionCode`).
    code = models.CharField(max_length=32, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)

    # --- what it gives
    percent = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="Percent off (1-100), for percent and buy X get Y."
    )
    buy_quantity = models.PositiveSmallIntegerField(null=True, blank=True)
    get_quantity = models.PositiveSmallIntegerField(null=True, blank=True)
    credit_days = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Promotional credit expires this many days after it is applied.",
    )

    # --- what it applies to (target items); empty with target=items means nothing is eligible
    categories = models.ManyToManyField("catalog.Category", blank=True, related_name="+")
    products = models.ManyToManyField("catalog.Product", blank=True, related_name="+")

    # --- conditions
    regions = models.ManyToManyField(
        "catalog.Region", blank=True, related_name="+", help_text="Empty: every region."
    )
    # Days in the shopper's region's time zone (catalog.regions.region_today), both inclusive.
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    first_order_only = models.BooleanField(default=False)
    per_shopper_limit = models.PositiveIntegerField(null=True, blank=True)

    # --- limits
    total_limit = models.PositiveIntegerField(null=True, blank=True)
    uses_count = models.PositiveIntegerField(default=0)

    # --- stacking (docs/promotions.md): combines with every other promotion except these,
    # or with none when `exclusive`. The relation is symmetrical, so "A does not combine with
    # B" is the same row as "B does not combine with A".
    exclusive = models.BooleanField(default=False)
    not_combinable_with = models.ManyToManyField("self", blank=True, symmetrical=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    # Who last changed it (set by promotions/services/staff.py on every change): with the
    # creator and the approver, one of the insiders who may never use it (docs/promotions.md).
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["slug"]
        permissions = [("approve_promotion", "Can approve promotions created or changed by others")]
        constraints = [
            models.CheckConstraint(
                condition=Q(total_limit__isnull=True) | Q(uses_count__lte=F("total_limit")),
                name="promotions_promotion_uses_within_limit",
            ),
            models.CheckConstraint(
                condition=Q(percent__isnull=True) | (Q(percent__gte=1) & Q(percent__lte=100)),
                name="promotions_promotion_percent_range",
            ),
            models.UniqueConstraint(
                fields=["code"], condition=~Q(code=""), name="promotions_promotion_code_unique"
            ),
            models.CheckConstraint(
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
                name="promotions_promotion_approver_not_creator",
            ),
        ]

    def __str__(self):
        return self.code or self.name


class PromotionAmount(models.Model):
    """A promotion's amounts in one currency (minor units). A promotion without a row for a
    currency has no minimum, cap or budget there; a fixed or credit one is not offered there."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="amounts")
    currency = models.CharField(max_length=3)
    amount_off = models.BigIntegerField(null=True, blank=True, help_text="Fixed off / credit.")
    minimum_subtotal = models.BigIntegerField(null=True, blank=True)
    cap = models.BigIntegerField(null=True, blank=True, help_text='e.g. "20% up to 30.00".')
    budget = models.BigIntegerField(null=True, blank=True, help_text="Total discount given.")
    budget_used = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["promotion", "currency"]
        constraints = [
            models.UniqueConstraint(
                fields=["promotion", "currency"], name="promotions_amount_one_per_currency"
            ),
            models.CheckConstraint(
                condition=(Q(amount_off__isnull=True) | Q(amount_off__gt=0))
                & (Q(minimum_subtotal__isnull=True) | Q(minimum_subtotal__gte=0))
                & (Q(cap__isnull=True) | Q(cap__gt=0))
                & (Q(budget__isnull=True) | Q(budget__gt=0)),
                name="promotions_amount_positive",
            ),
            # The budget is never overshot: the last use is trimmed to what is left.
            models.CheckConstraint(
                condition=Q(budget_used__gte=0)
                & (Q(budget__isnull=True) | Q(budget_used__lte=F("budget"))),
                name="promotions_amount_budget_within",
            ),
        ]

    def __str__(self):
        return f"{self.promotion} {self.currency}"


class PromotionCode(models.Model):
    """One code of a promotion, stored as a keyed hash (promotions.codes) and its last four
    symbols. A vanity promotion has one, reusable; a unique-codes promotion has many, each
    used once (`redeemed_at`, set by a guarded update)."""

    promotion = models.ForeignKey(Promotion, on_delete=models.CASCADE, related_name="code_rows")
    code_hash = models.CharField(max_length=64, unique=True)
    last4 = models.CharField(max_length=4)
    single_use = models.BooleanField(default=False)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    batch = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(single_use=True) | Q(redeemed_at__isnull=True),
                name="promotions_code_only_single_use_redeemed",
            ),
        ]

    def __str__(self):
        return f"{self.promotion.slug} …{self.last4}"


class PromotionRedemption(models.Model):
    """One use of a promotion by a shopper: in an order (a discount), or a credit grant."""

    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="redemptions")
    code = models.ForeignKey(
        PromotionCode, on_delete=models.PROTECT, null=True, blank=True, related_name="redemptions"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # The order it was used in ("CP-…"; empty for a credit grant). Text, not a key: checkout
    # imports promotions, never the other way round.
    order_number = models.CharField(max_length=20, blank=True, default="", db_index=True)
    currency = models.CharField(max_length=3)
    amount = models.BigIntegerField(help_text="Discount given (or credit granted), minor units.")
    # {product id: [discount of each unit]} and the shipping part, as allocated at the order.
    allocation = models.JSONField(default=dict, blank=True)
    shipping_amount = models.BigIntegerField(default=0)
    # Copied from the promotion and code when written, so the constraints below can see them.
    once_per_shopper = models.BooleanField(default=False)
    single_use_code = models.BooleanField(default=False)
    # A full refund or a cancellation gives the use back (PROMOTION_RELEASE_ON_REFUND).
    released_at = models.DateTimeField(null=True, blank=True)
    clawed_back = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0) & Q(shipping_amount__gte=0) & Q(clawed_back__gte=0),
                name="promotions_redemption_amounts_non_negative",
            ),
            models.UniqueConstraint(
                fields=["promotion", "user"],
                condition=Q(once_per_shopper=True, released_at__isnull=True),
                name="promotions_redemption_once_per_shopper",
            ),
            models.UniqueConstraint(
                fields=["code"],
                condition=Q(single_use_code=True, released_at__isnull=True),
                name="promotions_redemption_single_use_code",
            ),
            models.UniqueConstraint(
                fields=["promotion", "order_number"],
                condition=~Q(order_number=""),
                name="promotions_redemption_once_per_order",
            ),
        ]

    def __str__(self):
        return f"{self.promotion} by {self.user_id} ({self.order_number or 'credit'})"


class GiftCardBonus(models.Model):
    """The promotional credit a gift card bonus offer gives one paid order (docs/promotions.md,
    "Gift card bonus"): its use is claimed with the order's other promotions
    (`redemption`, whose `amount` is the credit promised); the credit lot is granted once the
    card payment is captured; when refunds leave the order's gift cards below `minimum`, what
    is left of the lot is taken back and what the shopper already spent of it is withheld
    from the refund. One row per order and promotion: the grant and the claw-back happen once.
    """

    class Status(models.TextChoices):
        GRANTED = "granted", "Granted"
        # The gift cards fell below the minimum: the lot's remainder was taken back.
        CLAWED_BACK = "clawed_back", "Taken back (gift cards refunded)"
        # The gift cards fell below the minimum before the credit was granted: none given.
        NOT_GRANTED = "not_granted", "Not granted (gift cards refunded before)"

    promotion = models.ForeignKey(Promotion, on_delete=models.PROTECT, related_name="+")
    redemption = models.OneToOneField(
        PromotionRedemption, on_delete=models.PROTECT, related_name="giftcard_bonus"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Text, not a key: checkout imports promotions, never the other way round.
    order_number = models.CharField(max_length=20, db_index=True)
    currency = models.CharField(max_length=3)
    credit = models.BigIntegerField(help_text="Promotional credit granted, minor units.")
    minimum = models.BigIntegerField(help_text="The gift card total it needed, minor units.")
    lot = models.OneToOneField(
        "wallet.CreditLot", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.GRANTED)
    # At the claw-back: what went back from the lot, and what the shopper had already spent
    # of it (withheld from the refund that caused it).
    taken_back = models.BigIntegerField(default=0)
    withheld = models.BigIntegerField(default=0)
    claw_back_key = models.CharField(max_length=128, blank=True, default="")
    clawed_back_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "gift card bonuses"
        constraints = [
            models.UniqueConstraint(
                fields=["order_number", "promotion"], name="promotions_giftcardbonus_once"
            ),
            models.CheckConstraint(
                condition=Q(credit__gte=0)
                & Q(taken_back__gte=0)
                & Q(withheld__gte=0)
                & Q(taken_back__lte=F("credit") - F("withheld")),
                name="promotions_giftcardbonus_amounts_within",
            ),
            models.CheckConstraint(
                condition=~Q(status="granted") | Q(lot__isnull=False),
                name="promotions_giftcardbonus_granted_has_lot",
            ),
        ]

    def __str__(self):
        return f"{self.promotion} for {self.order_number}"
