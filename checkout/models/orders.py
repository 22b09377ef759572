"""Carts, orders and their lines, and shipping rates (payments and refunds: payments.py).

Amounts are integer minor units of the order's currency. An order records how it was paid:
the subtotal, the discount, the part taken from the wallet balance (a ledger transfer) and
the part charged to a card (a `Payment`); refunds go back per source, never above what that
source paid.

A status says what has happened, never what is about to: a card payment is `authorized` when
the order is written and `captured` only once the provider said so, after commit.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import city_line
from wallet.units import coins_for_value

MAX_QUANTITY = 99


class Cart(models.Model):
    """A signed-in shopper's saved cart (visitors keep theirs in the session)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cart"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"Cart of {self.user}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="checkout_cartline_unique"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1) & Q(quantity__lte=MAX_QUANTITY),
                name="checkout_cartline_quantity_range",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.product_id}"


class Order(models.Model):
    class Status(models.TextChoices):
        # The words of docs/interface.md §10, stored as they are shown (`data-status`).
        PLACED = "placed", "Placed"
        SHIPPED = "shipped", "Shipped"
        # Handed over; a digital-only order is delivered the moment it is paid.
        DELIVERED = "delivered", "Delivered"
        PARTIALLY_REFUNDED = "partially_refunded", "Partially refunded"
        REFUNDED = "refunded", "Refunded"
        # The card capture failed after the order was written: nothing was charged to the
        # card, the balance part went back to the balance and the hold was released.
        PAYMENT_FAILED = "payment_failed", "Payment failed"
        CANCELLED = "cancelled", "Cancelled"

    class ShippingMethod(models.TextChoices):
        NONE = "", "Nothing to ship"
        STANDARD = "standard", "Standard"
        EXPRESS = "express", "Express"

    number = models.CharField(max_length=20, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="orders"
    )
    region = models.ForeignKey("catalog.Region", on_delete=models.PROTECT, related_name="+")
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLACED)
    # The same key twice (double click, replayed POST, a second tab) lands on this order.
    idempotency_key = models.CharField(max_length=64, unique=True)
    subtotal = models.BigIntegerField()
    discount = models.BigIntegerField(default=0)
    balance_applied = models.BigIntegerField(default=0)
    # The part of `balance_applied` paid by promotional credit (the rest was gift card money);
    # a refund gives it back as credit, to its lots with their old expiry.
    credit_applied = models.BigIntegerField(default=0)
    card_charged = models.BigIntegerField(default=0)
    # What coins paid (minor units of the order's currency; the coins are wallet.units'
    # `coins_for_value` of it): digital items only, never coin packs or gift cards.
    coins_applied = models.BigIntegerField(default=0)
    coins_refunded = models.BigIntegerField(default=0)
    coins_transfer = models.ForeignKey(
        "wallet.Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    balance_refunded = models.BigIntegerField(default=0)
    card_refunded = models.BigIntegerField(default=0)
    # Of the card part, what a refund of gift cards kept back for good: the gift card bonus
    # credit the buyer had already spent (docs/promotions.md). Never refundable after.
    card_withheld = models.BigIntegerField(default=0)
    balance_transfer = models.ForeignKey(
        "wallet.Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The ledger transfer that gave the balance part back when the card payment failed.
    balance_return_transfer = models.ForeignKey(
        "wallet.Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # Shipping as it was when the order was placed (docs/interface.md §10): the price, the
    # method and a copy of the address, so a later edit of the address book changes nothing.
    shipping = models.BigIntegerField(default=0)
    shipping_method = models.CharField(
        max_length=10, choices=ShippingMethod.choices, default="", blank=True
    )
    ship_name = models.CharField(max_length=100, blank=True)
    ship_line1 = models.CharField(max_length=120, blank=True)
    ship_line2 = models.CharField(max_length=120, blank=True)
    ship_city = models.CharField(max_length=80, blank=True)
    ship_postal_code = models.CharField(max_length=12, blank=True)
    ship_country = models.CharField(max_length=2, blank=True)
    ship_phone = models.CharField(max_length=30, blank=True)
    carrier = models.CharField(max_length=60, blank=True)
    tracking_number = models.CharField(max_length=60, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    # The promotions the order was placed with, as they were then (docs/promotions.md): one
    # {"promotion_id", "slug", "code", "label", "amount", "shipping_amount", "kind",
    # "minimum", "eligible": [product ids], "buy", "get", "units": {product id: [each unit's
    # part]}} per promotion. Refunds judge a claw-back on these figures, not on the promotion
    # as staff may have changed it since.
    promotions = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        permissions = [
            ("refund_order", "Can refund orders"),
            ("fulfil_order", "Can mark orders shipped and delivered"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(subtotal__gte=0)
                & Q(shipping__gte=0)
                & Q(discount__gte=0)
                & Q(balance_applied__gte=0)
                & Q(card_charged__gte=0)
                & Q(coins_applied__gte=0),
                name="checkout_order_amounts_non_negative",
            ),
            models.CheckConstraint(
                condition=Q(
                    subtotal=models.F("discount")
                    - models.F("shipping")
                    + models.F("balance_applied")
                    + models.F("card_charged")
                    + models.F("coins_applied")
                ),
                name="checkout_order_paid_in_full",
            ),
            models.CheckConstraint(
                condition=Q(coins_refunded__gte=0)
                & Q(coins_refunded__lte=models.F("coins_applied")),
                name="checkout_order_coins_refund_within_paid",
            ),
            # Refunds never exceed what each source paid, even if two staff refund at once.
            models.CheckConstraint(
                condition=Q(balance_refunded__gte=0)
                & Q(balance_refunded__lte=models.F("balance_applied")),
                name="checkout_order_balance_refund_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(card_refunded__gte=0)
                & Q(card_withheld__gte=0)
                & Q(card_refunded__lte=models.F("card_charged") - models.F("card_withheld")),
                name="checkout_order_card_refund_within_paid",
            ),
            models.CheckConstraint(
                condition=Q(credit_applied__gte=0)
                & Q(credit_applied__lte=models.F("balance_applied")),
                name="checkout_order_credit_within_balance",
            ),
        ]

    def __str__(self):
        return self.number

    @property
    def total(self) -> int:
        return self.subtotal + self.shipping - self.discount

    @property
    def refunded(self) -> int:
        return self.balance_refunded + self.card_refunded + self.coins_refunded

    @property
    def coins_spent(self) -> int:
        """The coins that paid `coins_applied` (wallet.units: one coin per minor unit today)."""
        return coins_for_value(value=self.coins_applied, currency=self.currency)

    @property
    def card_left(self) -> int:
        """What of the card part can still be refunded: not refunded yet nor withheld."""
        return self.card_charged - self.card_refunded - self.card_withheld

    @property
    def settled(self) -> int:
        """What of the total is refunded or withheld for good: when it is the total, there is
        nothing left to refund."""
        return self.refunded + self.card_withheld

    @property
    def page_status(self) -> str:
        """The order page's `data-status`: the stored word itself."""
        return self.status

    @property
    def ships(self) -> bool:
        return bool(self.shipping_method)

    @property
    def ship_lines(self) -> list[str]:
        """The address it ships to, one line each, as written on the parcel."""
        lines = [
            self.ship_name,
            self.ship_line1,
            self.ship_line2,
            city_line(self.ship_country, city=self.ship_city, postal_code=self.ship_postal_code),
        ]
        return [line for line in lines if line]


class ShippingRate(models.Model):
    """What a region charges to ship a parcel by one method (docs/interface.md §10): data, kept
    by staff, in the region's currency (minor units; JPY whole yen). Standard shipping is free
    from `free_from` (the items' subtotal before promotions), when set."""

    region = models.ForeignKey("catalog.Region", on_delete=models.PROTECT, related_name="+")
    method = models.CharField(
        max_length=10,
        choices=[
            (Order.ShippingMethod.STANDARD, "Standard"),
            (Order.ShippingMethod.EXPRESS, "Express"),
        ],
    )
    amount = models.BigIntegerField()
    free_from = models.BigIntegerField(
        null=True,
        blank=True,
        help_text=("Free from this items subtotal, before promotions (minor units); empty: never."),
    )
    delivery_days = models.CharField(max_length=20, help_text='Shown to shoppers, e.g. "3-5".')

    class Meta:
        ordering = ["region", "method"]
        constraints = [
            models.UniqueConstraint(fields=["region", "method"], name="checkout_rate_unique"),
            models.CheckConstraint(
                condition=Q(amount__gte=0) & (Q(free_from__isnull=True) | Q(free_from__gte=0)),
                name="checkout_rate_non_negative",
            ),
        ]

    def __str__(self):
        return f"{self.region_id} {self.method}"


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="lines")
    product = models.ForeignKey("catalog.Product", on_delete=models.PROTECT, related_name="+")
    product_name = models.CharField(max_length=200)
    quantity = models.PositiveSmallIntegerField()
    unit_price = models.BigIntegerField()
    # A Subscribe & Save delivery's line (docs/subscriptions.md): the catalog's unit price
    # before its discount (`unit_price` is what the shopper paid per unit before promotions);
    # null for every other line.
    list_price = models.BigIntegerField(null=True, blank=True)
    line_total = models.BigIntegerField()
    # What the promotions took off this line, all of them together, and how it fell on each
    # unit (a list of `quantity` parts summing to `discount`: promotions.allocation). A refund
    # of units returns what was paid for them: unit price less their parts.
    discount = models.BigIntegerField(default=0)
    unit_discounts = models.JSONField(default=list, blank=True)
    # Units returned by `order_refund_units` so far.
    refunded_quantity = models.PositiveSmallIntegerField(default=0)
    # As it was sold: a digital item is delivered at once and listed in the shopper's library.
    is_digital = models.BooleanField(default=False)
    # What coins paid of this line (minor units, within `paid`), and for a coin pack the coins
    # it gives (its coins and bonus, times the quantity); both 0 otherwise.
    coins = models.BigIntegerField(default=0)
    pack_coins = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discount__gte=0) & Q(discount__lte=models.F("line_total")),
                name="checkout_orderline_discount_within_total",
            ),
            models.CheckConstraint(
                condition=Q(refunded_quantity__lte=models.F("quantity")),
                name="checkout_orderline_refunded_within_quantity",
            ),
            models.CheckConstraint(
                condition=Q(coins__gte=0)
                & Q(coins__lte=models.F("line_total") - models.F("discount"))
                & Q(pack_coins__gte=0),
                name="checkout_orderline_coins_within_paid",
            ),
        ]

    def __str__(self):
        return f"{self.quantity} x {self.product_name}"

    @property
    def paid(self) -> int:
        """What the shopper paid for this line: its total less its discount."""
        return self.line_total - self.discount
