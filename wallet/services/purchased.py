"""Gift cards bought in the shop (docs/giftcards.md): the code given at delivery, and the refund
of a card nobody redeemed.

A bought card is issued `pending` when its order is paid (`giftcard_issue(pending=True)`: the
liability is in the ledger from then on) and gets the code that reaches the recipient only at
delivery, here. No code is ever stored: a card delivered again (a retried e-mail, staff sending
it to a corrected address) gets a new code, and the one before stops working at once.
"""

from django.db import transaction
from django.views.decorators.debug import sensitive_variables

from wallet.codes import code_generate, code_hash, code_last4
from wallet.exceptions import InvalidState, NotFound
from wallet.locks import giftcard_qs_select_for_update_by_pk
from wallet.models import Account, GiftCard, Transfer
from wallet.services.giftcards import IssuedGiftCard
from wallet.services.ledger import Leg, system_account_get_or_create, transfer_create


@sensitive_variables("code")
def giftcard_code_renew(*, card_id: int) -> IssuedGiftCard:
    """Give the card `card_id` a new code and make it redeemable; the code it had (if any
    was ever delivered) stops working in the same commit. Returns the new code: the only copy,
    to put in the recipient's e-mail or the printed card now.

    Lock: the gift card row. Not idempotent by design (each call makes a new code): callers
    claim the delivery first, so one delivery attempt calls it once. Raises `NotFound`, and
    `InvalidState` for a card redeemed, refunded or disabled by staff.
    """
    with transaction.atomic():
        card = giftcard_qs_select_for_update_by_pk(card_id=card_id).first()
        if card is None:
            raise NotFound(f"there is no gift card #{card_id}")
        if card.status not in (GiftCard.Status.PENDING, GiftCard.Status.ACTIVE):
            raise InvalidState(f"the card is {card.get_status_display().lower()}")
        code = code_generate()
        card.code_hash = code_hash(code)
        card.last4 = code_last4(code)
        card.status = GiftCard.Status.ACTIVE
        card.save(update_fields=["code_hash", "last4", "status"])
    return IssuedGiftCard(card=card, code=code)


def giftcard_refund(*, card_id: int, idempotency_key: str, created_by=None) -> GiftCard:
    """Take back a bought card nobody redeemed: it becomes `refunded` (never redeemable again)
    and its value leaves the gift card liability (outstanding → issued, the issue reversed).
    The caller refunds the buyer in the same transaction.

    Lock: the gift card row (a redemption of the same card waits, then finds it refunded; or
    this waits and finds it redeemed). Idempotent on `idempotency_key`: a card already refunded
    returns as it is. Raises `NotFound`, and `InvalidState` for a redeemed card ("it was
    redeemed: it cannot be refunded").
    """
    with transaction.atomic():
        card = giftcard_qs_select_for_update_by_pk(card_id=card_id).first()
        if card is None:
            raise NotFound(f"there is no gift card #{card_id}")
        if card.status == GiftCard.Status.REFUNDED:
            return card
        if card.status == GiftCard.Status.REDEEMED:
            raise InvalidState("the gift card was redeemed: it cannot be refunded")
        funding = system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_ISSUED, currency=card.currency
        )
        outstanding = system_account_get_or_create(
            kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency=card.currency
        )
        transfer_create(
            idempotency_key=idempotency_key,
            kind=Transfer.Kind.GIFTCARD_REFUND,
            description=f"Gift card …{card.last4} refunded to its buyer",
            legs=[Leg(outstanding.pk, -card.amount), Leg(funding.pk, card.amount)],
            created_by=created_by,
        )
        card.status = GiftCard.Status.REFUNDED
        card.status_reason = "refunded to its buyer"
        card.save(update_fields=["status", "status_reason"])
    return card
