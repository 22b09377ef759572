"""Wallet test data, made through the real services (never by writing a balance)."""

from catalog.models import Region
from wallet.services import giftcard_issue


def issue_card(*, region: str = "US", amount: int = 2500, **kwargs):
    """Issue a gift card through `giftcard_issue`; returns `IssuedGiftCard` (card and code)."""
    return giftcard_issue(region=Region.objects.get(code=region), amount=amount, **kwargs)
