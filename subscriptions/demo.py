"""Subscribe & Save's demo data for `make run` (docs/interface.md §4): the demo shopper gets
the test card 4242 saved and one active subscription, coffee beans every month, as they
would through the pages (the provider's token, `subscription_create`).

`seed_demo` (in checkout, which may not import this app) calls `subscriptions_seed` through
`settings.DEMO_SEEDERS`, after the shopper, their address and the catalog exist. Idempotent:
a card is saved only when they have none, and a subscription is started only when they have
none at all (whatever the demo shopper did with theirs, it is left as it is).
"""

from django.db import transaction

from accounts.models import User
from checkout.models import SavedCard
from checkout.services.saved_cards import card_tokenize, saved_card_create
from subscriptions.models import Subscription
from subscriptions.services import subscription_create
from wallet.demo import DEMO_SHOPPER

# The provider's published test card that is always approved (never printed anywhere).
DEMO_CARD = "4242 4242 4242 4242"
DEMO_PRODUCT = "coffee-beans-1kg"


def _card_ensure(shopper: User) -> int:
    """Save the test card for the shopper unless they have a card; returns how many were."""
    if SavedCard.objects.filter(user=shopper).exists():
        return 0
    # Asked outside the transaction (never a slow call under a lock), as checkout does.
    token = card_tokenize(card_number=DEMO_CARD)
    with transaction.atomic():
        saved_card_create(user=shopper, token=token)
    return 1


def subscriptions_seed() -> str:
    """Give the demo shopper a saved card and a monthly coffee subscription when they have
    none; returns what was created, for `seed_demo`'s one summary line."""
    shopper = User.objects.select_related("region").filter(email=DEMO_SHOPPER[0]).first()
    if shopper is None:
        return "0 demo subscription(s) created"
    cards = _card_ensure(shopper)
    created = 0
    if not Subscription.objects.filter(user=shopper).exists():
        # Its first delivery is due today: the worker's daily run places it.
        subscription_create(user=shopper, product_slug=DEMO_PRODUCT, quantity=1, every=1)
        created = 1
    return f"{created} demo subscription(s) and {cards} saved card(s) created"
