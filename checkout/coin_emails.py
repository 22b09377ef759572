"""The coin pack e-mail (docs/points.md): "Your coins are in your wallet", sent after commit
once a paid order's packs are credited, linking to the coins page of the wallet. A mail server
that fails is logged, never raised: the coins are already credited."""

import logging

from catalog.money import format_money
from checkout.models import Order
from config.mail import mail_send
from wallet.units import format_coins

logger = logging.getLogger(__name__)


def coins_credited_mail_send(*, order_id: int, coins: int) -> None:
    """Tell the buyer of order `order_id` that `coins` (its packs, bonus included) are in
    their wallet. Never raises."""
    try:
        order = Order.objects.select_related("user", "region").get(pk=order_id)
        locale = order.region.locale
        mail_send(
            to=order.user.email,
            subject="[Coinpurse] Your coins are in your wallet",
            template="checkout/email/coins_credited",
            context={
                "order": order,
                "coins": format_coins(coins, locale=locale),
                "card": format_money(order.card_charged, currency=order.currency, locale=locale),
                "action_url": "/wallet/coins/",
                "action_label": "See your coins",
            },
        )
    except Exception:
        logger.exception("order #%s: the coins e-mail was not sent", order_id)
