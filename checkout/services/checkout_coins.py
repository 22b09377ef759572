"""The checkout's coins switch (docs/interface.md §13): whether the shopper's coins pay the
digital items of the order first."""

from checkout.selectors import SESSION_USE_COINS


def checkout_use_coins_set(*, session, use_coins: bool) -> None:
    """The shopper's switch: coins pay the digital items first (the default) or not at all."""
    session[SESSION_USE_COINS] = use_coins
