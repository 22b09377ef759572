"""What `order_place` checks under the cart lock: whether the summary the shopper agreed to
still holds, and the words of an order refused because a promotion no longer applies."""

PROMOTION_CHANGED = (
    "A promotion of your order no longer applies{why}. Nothing was charged: check the summary "
    "again."
)


def promotion_changed(refusals) -> str:
    """The message of an order refused because a promotion no longer applies, with the
    engine's words for the first code it refuses."""
    why = f": {refusals[0].message.rstrip('.')}" if refusals else ""
    return PROMOTION_CHANGED.format(why=why)


def paying_changed(fresh, quote, *, agreed: bool) -> bool:
    """Whether the quote under the lock asks the shopper to pay otherwise than the summary.
    The coins part must be the same (another tab spent coins, the switch was turned). Same
    total: the balance part must be the same too (another tab spent it). Another total for the
    same promotions (a budget was used up meanwhile) goes on only for a call that agreed to no
    figures, and only when it costs more (paid from the balance)."""
    if (fresh.coins_applied, fresh.line_coins) != (quote.coins_applied, quote.line_coins):
        return True
    if fresh.total == quote.total:
        return fresh.balance_applied != quote.balance_applied
    return agreed or fresh.total < quote.total
