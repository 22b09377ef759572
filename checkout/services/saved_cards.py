"""Saved cards (`SavedCard`): the provider's token and the last 4 digits, never the number.
The one home of asking the provider for a token and keeping it, for auto-reload and for
Subscribe & Save's deliveries."""

import logging

from django.views.decorators.debug import sensitive_variables

from checkout.exceptions import CheckoutError, PaymentDeclined
from checkout.models import SavedCard
from checkout.payments import CardToken, payment_provider_get
from checkout.services.reloads import PROVIDER_DOWN

logger = logging.getLogger(__name__)


@sensitive_variables("card_number")
def card_tokenize(*, card_number: str) -> CardToken:
    """The provider's token for `card_number`. Call it outside any transaction: it is an
    outside call, never made under a lock. Raises `PaymentDeclined` (a number the provider
    refuses) and `CheckoutError` `provider_unavailable` (the provider failed: logged without
    the number); nothing is written either way."""
    try:
        return payment_provider_get().tokenize(card_number=card_number)
    except PaymentDeclined:
        raise
    except Exception as failure:
        logger.exception("the card provider failed to save a card")
        raise CheckoutError(PROVIDER_DOWN, reason="provider_unavailable") from failure


def saved_card_create(*, user, token: CardToken) -> SavedCard:
    """Keep `token` as one of the shopper's saved cards (inside the caller's transaction)."""
    return SavedCard.objects.create(
        user=user,
        provider=payment_provider_get().name,
        token=token.token,
        card_last4=token.card_last4,
    )
