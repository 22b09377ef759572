"""What happens once an order's card payment is captured (docs/giftcards.md): the work that
waited for the money."""

import logging

from checkout.services.coin_orders import order_coins_credit
from checkout.services.giftcard_orders import order_gift_cards_issue
from checkout.services.order_points import order_points_earn
from checkout.services.order_promotions import order_bonus_grant

logger = logging.getLogger(__name__)


def order_paid(*, order_id: int) -> None:
    """After the capture: issue the order's bought gift cards (each `pending`, its delivery
    scheduled) and grant a gift card bonus offer's promotional credit.

    Each step is idempotent (keyed by the order) and runs in its own transaction, so one
    failing does not stop the other; a failure is logged, and the worker's periodic sweep
    (`checkout.tasks.giftcard_deliveries_due`) does the step again. Never raises: it runs
    after the order committed, inside the request that placed it.
    """
    # A digital-only order was delivered when placed: its points wait for the money (a no-op
    # for an order not delivered yet: `order_deliver` earns them).
    for step in (order_gift_cards_issue, order_bonus_grant, order_points_earn, order_coins_credit):
        try:
            step(order_id=order_id)
        except Exception:
            logger.exception("order #%s: %s failed after payment", order_id, step.__name__)
