"""What coins say about a shopper's region change (registered in `WalletConfig.ready`).

Coins are one account per shopper (unit `CNS`) whatever their region, but what a coin pays
for is set per currency (wallet.units): 500 coins bought for 4.75 in the US store pay for
$5.00 of apps there and for ¥500 in the Japanese store. Moving the coins across currencies
would change their worth, so a shopper holding coins changes only to a region of the same
currency; in another they spend them first. Points are not held back: they are valued at the
new region's rate when they are converted (docs/points.md).
"""

from accounts.services import RegionChange
from catalog.admin_money import money_display
from wallet.locks import account_qs_select_for_update
from wallet.models import Account, BalanceAdjustment
from wallet.units import UnknownCurrency, coins_value, format_coins


def _worth(coins: int, currency: str) -> str | None:
    try:
        # In one locale with each currency's own symbol: staff read the reasons.
        return money_display(coins_value(coins=coins, currency=currency), currency)
    except UnknownCurrency:
        return None


def coins_region_change_guard(change: RegionChange) -> list[str]:
    """Refuse a change to a region of another currency while the shopper holds coins. Their
    coins account is locked, so a purchase or a refund in flight finishes first and is seen."""
    if not change.currency_changes:
        return []
    ids = Account.objects.filter(user=change.user, kind=Account.Kind.CUSTOMER_COINS).values_list(
        "pk", flat=True
    )
    coins = sum(account.balance for account in account_qs_select_for_update(account_ids=ids))
    reasons = []
    if coins > 0:
        old, new = change.old_region, change.new_region
        here, there = _worth(coins, old.currency), _worth(coins, new.currency)
        worth = (
            f"worth {here} in the {old.code} store" if here else "worth a price in each currency"
        )
        if here and there:
            worth += f" but {there} in the {new.code} store"
        reasons.append(
            f"they hold {format_coins(coins)} ({worth}): coins keep their value only within one "
            "currency, so they must be spent first"
        )
    # A coins adjustment waiting for approval would be credited, approved, at the new
    # currency's worth.
    if BalanceAdjustment.objects.filter(
        account_id__in=ids, status=BalanceAdjustment.Status.PENDING
    ).exists():
        reasons.append("a coins adjustment is waiting for approval: approve or reject it first")
    return reasons
