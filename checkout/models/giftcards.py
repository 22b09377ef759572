"""Gift cards bought in the shop (docs/interface.md §12, docs/giftcards.md).

A gift card in the cart is a `CartGiftCard` (its own line, however many the cart holds); the
placed order turns each into an `OrderLine` (quantity 1, the card's amount) with an
`OrderGiftCard` beside it: the recipient, the delivery, and once the order is paid the issued
`wallet.GiftCard`. The code is never stored here: the delivery gives the card its code
(`wallet.services.giftcard_code_renew`) and puts it in the e-mail or the PDF, nowhere else.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from checkout.models.orders import Cart, Order, OrderLine


class GiftCardDesign(models.TextChoices):
    """The designs the shop ships (their colours and art: checkout/giftcard_designs.py)."""

    CLASSIC = "classic", "Classic"
    BIRTHDAY = "birthday", "Happy birthday"
    THANKS = "thanks", "Thank you"
    CELEBRATE = "celebrate", "Celebrate"


class Delivery(models.TextChoices):
    EMAIL = "email", "E-mail to the recipient"
    PRINT = "print", "Print it yourself (a PDF)"


class CartGiftCard(models.Model):
    """A gift card in a signed-in shopper's cart, as they filled in the buy form."""

    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="gift_cards")
    # A product of kind gift card: what the order line names (the catalog's gift card).
    product = models.ForeignKey("catalog.Product", on_delete=models.CASCADE, related_name="+")
    # Minor units of `currency`, the shopper's region's when it was added: a region change
    # empties the cart.
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    recipient_email = models.EmailField(blank=True)
    recipient_name = models.CharField(max_length=100)
    # Who the card says it is from, as the buyer typed it (their name by default): never
    # their e-mail address, which the recipient is not told.
    sender_name = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=300, blank=True)
    design = models.CharField(max_length=20, choices=GiftCardDesign.choices)
    # A day in the buyer's region's time zone; None: as soon as the order is paid.
    send_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="checkout_cartgiftcard_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(delivery="email") | ~Q(recipient_email=""),
                name="checkout_cartgiftcard_email_has_recipient",
            ),
        ]

    def __str__(self):
        return f"Gift card {self.amount} {self.currency} for {self.recipient_name}"


class OrderGiftCard(models.Model):
    """A gift card bought in an order: its recipient, its delivery, its card once paid.

    Delivery (docs/giftcards.md): `awaiting_payment` until the order's card payment is captured;
    then the card is issued `pending` and this is `scheduled` (e-mail, for `send_on` in the
    buyer's region) or `ready` (print); a delivery job claims it (`sending`, with a lease so
    two workers never both send), gives the card its code and sends it: `sent`. A failure
    counts an attempt, keeps the error and is tried again after a back-off; after
    JOB_MAX_ATTEMPTS it is `failed` for staff. A print download makes it `downloaded` (once).
    A refund makes it `refunded`; a failed payment `cancelled`. Redeemed is the card's status.
    """

    class Status(models.TextChoices):
        AWAITING_PAYMENT = "awaiting_payment", "Waiting for the payment"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Delivery failed: needs attention"
        READY = "ready", "Ready to print"
        DOWNLOADED = "downloaded", "Downloaded"
        REFUNDED = "refunded", "Refunded"
        CANCELLED = "cancelled", "Cancelled (payment failed)"

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="gift_cards")
    line = models.OneToOneField(OrderLine, on_delete=models.PROTECT, related_name="gift_card")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    delivery = models.CharField(max_length=10, choices=Delivery.choices)
    recipient_email = models.EmailField(blank=True)
    recipient_name = models.CharField(max_length=100)
    sender_name = models.CharField(max_length=100, blank=True)
    message = models.CharField(max_length=300, blank=True)
    design = models.CharField(max_length=20, choices=GiftCardDesign.choices)
    # The day to send it, in the buyer's region's time zone (the day the order was placed
    # when the buyer chose none).
    send_on = models.DateField()
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.AWAITING_PAYMENT
    )
    card = models.OneToOneField(
        "wallet.GiftCard", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    # A delivery job's claim: no other job sends this card before `claimed_until`.
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    # How many times staff sent it again (to a corrected address); each made a new code.
    resent_count = models.PositiveSmallIntegerField(default=0)
    downloaded_at = models.DateTimeField(null=True, blank=True)
    downloaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "bought gift card"
        indexes = [
            models.Index(fields=["status", "send_on"], name="checkout_giftcard_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="checkout_ordergiftcard_amount_positive"
            ),
            models.CheckConstraint(
                condition=~Q(delivery="email") | ~Q(recipient_email=""),
                name="checkout_ordergiftcard_email_has_recipient",
            ),
            # Paid and past the payment: a card exists.
            models.CheckConstraint(
                condition=Q(status__in=["awaiting_payment", "cancelled"]) | Q(card__isnull=False),
                name="checkout_ordergiftcard_paid_has_card",
            ),
        ]

    def __str__(self):
        return f"Gift card of {self.order} for {self.recipient_name}"

    @property
    def sender_shown(self) -> str:
        """Who the e-mail and the printed card say it is from: the name the buyer gave, else
        "A friend" (never the buyer's e-mail address)."""
        return self.sender_name or "A friend"

    @property
    def page_status(self) -> str:
        """The buyer's `data-status` (docs/interface.md §12): `redeemed` once the recipient
        redeemed it, else `sent` / `scheduled` for an e-mail (a delivery being retried is
        still `scheduled`; one that gave up is `failed`: the buyer is told to check the
        address with support), `ready` / `downloaded` for print, `refunded`, `cancelled`.
        Reads `card` (select it with the order's gift cards)."""
        if self.card is not None and self.card.status == "redeemed":
            return "redeemed"
        if self.status in (self.Status.SENT, self.Status.DOWNLOADED, self.Status.READY):
            return self.status
        if self.status in (self.Status.REFUNDED, self.Status.CANCELLED, self.Status.FAILED):
            return self.status
        return self.Status.SCHEDULED
