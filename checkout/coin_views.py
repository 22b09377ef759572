"""The coin packs page, /coins/ (docs/interface.md §13): the packs for sale in the shopper's
region, each with an "Add to cart" form to the cart (POST /cart/add/); coins are bought by card
and credited to the wallet once the payment is captured (checkout/services/coin_orders.py)."""

from django.shortcuts import render
from django.views import View

from catalog.selectors import shopper_region
from checkout.coin_selectors import coin_pack_offers
from wallet.unit_selectors import coins_balance_get
from wallet.units import format_coins


class CoinPackListView(View):
    """Public, like the catalog: a visitor sees the packs and may fill a cart; a signed-in
    shopper also sees their coins (`data-testid="coins-balance"`, as on the wallet page)."""

    def get(self, request):
        region = shopper_region(request.user)
        context = {
            "region": region,
            "offers": coin_pack_offers(region=region),
        }
        if request.user.is_authenticated:
            coins = coins_balance_get(user=request.user)
            context |= {"coins": coins, "coins_text": format_coins(coins, locale=region.locale)}
        return render(request, "checkout/coin_pack_list.html", context)
