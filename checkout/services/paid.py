"""What happens once an order's card payment is captured (docs/giftcards.md): the work that
waited for the money."""

import logging
from dataclasses import dataclass

from checkout.models import Order
from checkout.services.coin_orders import order_coins_credit
from checkout.services.giftcard_orders import order_gift_cards_issue
from checkout.services.order_points import order_points_earn
from checkout.services.order_promotions import order_bonus_grant, order_has_bonus

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PaidWork:
    """What of an order may wait for its card payment, as `order_place` wrote it: facts fixed
    when the order is written (its bought gift cards, its coin packs, its gift card bonus
    offer, whether it was delivered when placed), which no later change adds to. A step with
    nothing of its kind is not called: each would lock the order and read it only to find
    nothing to do (docs/interface.md §10, "Queries")."""

    gift_cards: bool = True
    coin_packs: bool = True
    bonus: bool = True
    delivered_when_placed: bool = True


# Every step, as the sweeps and a caller that knows nothing of the order ask for them.
EVERY_STEP = PaidWork()


def order_paid_work(*, order: Order, quote) -> PaidWork:
    """What of `order`, just written from `quote` (inside `order_place`'s transaction), may
    wait for its card payment: no query."""
    return PaidWork(
        gift_cards=bool(quote.gift_cards),
        coin_packs=any(line.coin_pack for line in quote.lines),
        bonus=order_has_bonus(order),
        delivered_when_placed=order.delivered_at is not None,
    )


def order_paid(*, order_id: int, work: PaidWork = EVERY_STEP) -> None:
    """After the capture: issue the order's bought gift cards (each `pending`, its delivery
    scheduled), grant a gift card bonus offer's promotional credit, earn the points of an
    order delivered already and credit the coins of its coin packs. `work` says which of
    these the order can have (default: all, each step finding out for itself).

    Each step is idempotent (keyed by the order) and runs in its own transaction, so one
    failing does not stop the other; a failure is logged, and the worker's periodic sweep
    (`checkout.tasks.giftcard_deliveries_due`) does the step again. Never raises: it runs
    after the order committed, inside the request that placed it.
    """
    points = order_points_earn if work.delivered_when_placed else _points_earn_if_delivered
    steps = [
        step
        for step, wanted in (
            (order_gift_cards_issue, work.gift_cards),
            (order_bonus_grant, work.bonus),
            (points, True),
            (order_coins_credit, work.coin_packs),
        )
        if wanted
    ]
    for step in steps:
        try:
            step(order_id=order_id)
        except Exception:
            logger.exception("order #%s: %s failed after payment", order_id, step.__name__)


def _points_earn_if_delivered(*, order_id: int) -> None:
    """A digital-only order was delivered when placed: its points wait for the money. Any other
    order earns when it is delivered (`order_deliver` earns them then), so only one delivered
    meanwhile is earned for here; one read, no lock, finds out. Exact: this runs after the
    capture committed, so a delivery this read does not see commits after it, and its own
    earning (after that commit) sees the payment captured."""
    if Order.objects.filter(pk=order_id, delivered_at__isnull=False).exists():
        order_points_earn(order_id=order_id)
