"""The one-time download of a gift card bought for print (docs/giftcards.md, "Print").

The buyer downloads the PDF once: the download claims the bought card (`ready` →
`downloaded`, when and by whom), gives the wallet card its code (`giftcard_code_renew`: the only
copy goes into the PDF, nowhere else) and draws the PDF, all in one transaction. A second
download finds it `downloaded` and is refused; the order page says when it happened.
"""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from catalog.money import format_money
from checkout.exceptions import CheckoutError
from checkout.giftcard_designs import design_get
from checkout.giftcard_pdf import PrintedCard, giftcard_pdf_render
from checkout.locks import ordergiftcard_qs_select_for_update_by_pk
from checkout.models import Delivery, OrderGiftCard
from checkout.services.giftcard_orders import order_delivered_when_gift_cards_done
from wallet.exceptions import InvalidState
from wallet.services import giftcard_code_renew


class GiftCardNotPrintable(CheckoutError):
    """The bought card cannot be downloaded now; `reason`: `downloaded` (once only: see
    `downloaded_at`), `not_print` (it goes by e-mail), `not_ready` (not paid yet, refunded or
    cancelled)."""

    reason = "not_printable"

    def __init__(self, message: str, *, reason: str, downloaded_at=None):
        super().__init__(message, reason=reason)
        self.downloaded_at = downloaded_at


@dataclass(frozen=True)
class GiftCardDownload:
    gift_card: OrderGiftCard
    pdf: bytes

    @property
    def filename(self) -> str:
        return f"coinpurse-gift-card-{self.gift_card.order.number}-{self.gift_card.pk}.pdf"


@sensitive_variables("issued")
def order_gift_card_download(*, user, order_id: int, gift_card_id: int) -> GiftCardDownload:
    """Download the printable card `gift_card_id` of `user`'s order `order_id`, once.

    Under the bought card's lock (docs/ledger.md: after the order, before the wallet card):
    check it is a print card still `ready`, mark it `downloaded` (`downloaded_at`,
    `downloaded_by`), renew the wallet card's code and draw the PDF with it. The PDF is drawn
    inside the transaction on purpose: if drawing failed after the commit, the download would
    be spent and the only copy of the code lost; this way a failure leaves the card `ready`.
    No outside call is made under the lock (drawing is local work).

    Not idempotent by design: the first call wins, every later one raises
    `GiftCardNotPrintable` (`downloaded`); the caller has scoped `order_id` to the shopper
    (another shopper's order is a 404 before this). Raises `GiftCardNotPrintable`
    (`not_print`, `not_ready`, `downloaded`); nothing is written then.
    """
    with transaction.atomic():
        gift_card = (
            ordergiftcard_qs_select_for_update_by_pk(gift_card_id=gift_card_id)
            .filter(order_id=order_id, order__user=user)
            .select_related("order", "order__user", "card")
            .first()
        )
        if gift_card is None:
            raise GiftCardNotPrintable(
                "There is no such gift card in this order.", reason="missing"
            )
        _check(gift_card)
        gift_card.status = OrderGiftCard.Status.DOWNLOADED
        gift_card.downloaded_at = timezone.now()
        gift_card.downloaded_by = user
        gift_card.save(update_fields=["status", "downloaded_at", "downloaded_by", "updated_at"])
        try:
            issued = giftcard_code_renew(card_id=gift_card.card_id)
        except InvalidState as error:
            # Staff disabled the wallet card (the bought card still says `ready`).
            raise GiftCardNotPrintable(
                f"This gift card cannot be printed: {error}.", reason="not_ready"
            ) from None
        pdf = giftcard_pdf_render(
            card=PrintedCard(
                design=design_get(gift_card.design),
                amount=format_money(gift_card.amount, currency=gift_card.currency),
                recipient_name=gift_card.recipient_name,
                message=gift_card.message,
                sender_name=gift_card.sender_name or "a friend",  # "From a friend"
                code=issued.code,
            )
        )
    # Committed: the order is delivered once its last card is.
    order_delivered_when_gift_cards_done(order_id=order_id)
    return GiftCardDownload(gift_card=gift_card, pdf=pdf)


def _check(gift_card: OrderGiftCard) -> None:
    if gift_card.delivery != Delivery.PRINT:
        raise GiftCardNotPrintable(
            "This gift card goes to its recipient by e-mail: there is nothing to print.",
            reason="not_print",
        )
    if gift_card.status == OrderGiftCard.Status.DOWNLOADED:
        raise GiftCardNotPrintable(
            "This gift card was downloaded already: it can be downloaded once only.",
            reason="downloaded",
            downloaded_at=gift_card.downloaded_at,
        )
    if gift_card.status != OrderGiftCard.Status.READY or gift_card.card_id is None:
        waiting = gift_card.status == OrderGiftCard.Status.AWAITING_PAYMENT
        status = gift_card.get_status_display().lower()
        raise GiftCardNotPrintable(
            "This gift card can be printed once the order's payment is confirmed."
            if waiting
            else f"This gift card cannot be printed: it is {status}.",
            reason="not_ready",
        )
