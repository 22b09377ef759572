"""Subscribe & Save test set-up through the real services: a subscribable product, a shopper
with an address (and a saved card, a balance), a subscription due on a given day."""

import datetime

from catalog.models import Product
from subscriptions.models import Subscription
from subscriptions.services import subscription_create
from tests.checkout.factories import ProductFactory
from tests.checkout.shopping import APPROVED, address_give


def subscribable_product(*, price: int = 1000, **kwargs) -> Product:
    """A physical, subscribable product priced `price` (minor units) in every region."""
    prices = dict.fromkeys(("US", "GB", "FR", "DE", "JP"), price)
    return ProductFactory(subscribable=True, kind=Product.Kind.PHYSICAL, prices=prices, **kwargs)


def subscription_give(
    user,
    product: Product | None = None,
    *,
    quantity: int = 1,
    every: int = 1,
    card: str = APPROVED,
    due: datetime.date | None = None,
) -> Subscription:
    """Subscribe `user` (given a default address) through `subscription_create`, with `card`
    saved ("" for none); `due` moves its first delivery to that date (default: today in the
    region), as if it had been started on that day."""
    address_give(user)
    product = product or subscribable_product()
    sub = subscription_create(
        user=user, product_slug=product.slug, quantity=quantity, every=every, card_number=card
    )
    if due is not None:
        Subscription.objects.filter(pk=sub.pk).update(anchor_date=due, next_date=due)
        sub.refresh_from_db()
    return sub
