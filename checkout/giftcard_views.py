"""Buying a gift card (docs/interface.md §12): the form, and the card into the cart."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from catalog.models import Price, Product
from catalog.money import format_money, to_major_text
from catalog.regions import region_today
from checkout.exceptions import CheckoutError
from checkout.giftcard_amounts import giftcard_amounts_get
from checkout.giftcard_forms import CUSTOM, GiftCardBuyForm
from checkout.models import Delivery
from checkout.services.cart import cart_giftcard_add

# The form's fields in the page's order: the first with an error names the page's
# `data-reason`.
_FIELDS = (
    "amount",
    "design",
    "delivery",
    "recipient_name",
    "recipient_email",
    "sender_name",
    "message",
    "send_on",
    "product",
)


class GiftCardBuyView(LoginRequiredMixin, View):
    """GET the form (`?product=<slug>` preselects that gift card's amount); POST puts the card
    in the cart and goes to /cart/, or shows the form again (200) with the reason."""

    def get(self, request):
        form = self._form(request, initial=self._initial(request))
        return self._render(request, form)

    def post(self, request):
        form = self._form(request, data=request.POST)
        if not form.is_valid():
            reason = next((name for name in _FIELDS if name in form.errors), "invalid")
            message = form.errors[reason][0] if reason in form.errors else "Check the form."
            return self._render(request, form, error_reason=reason, error_message=message)
        data = form.cleaned_data
        try:
            card = cart_giftcard_add(
                user=request.user,
                amount=data["amount"],
                delivery=data["delivery"],
                recipient_name=data["recipient_name"],
                recipient_email=data["recipient_email"],
                sender_name=data["sender_name"],
                message=data["message"],
                design=data["design"],
                send_on=data["send_on"],
                product_slug=data["product"],
            )
        except CheckoutError as error:
            return self._render(
                request, form, error_reason=error.reason, error_message=error.message
            )
        amount = format_money(
            card.amount, currency=card.currency, locale=request.user.region.locale
        )
        how = "to print" if card.delivery == Delivery.PRINT else f"for {card.recipient_name}"
        messages.success(request, f"A gift card of {amount} {how} is in your cart.")
        return redirect("checkout:cart")

    @staticmethod
    def _form(request, **kwargs) -> GiftCardBuyForm:
        region = request.user.region
        return GiftCardBuyForm(
            amounts=giftcard_amounts_get(region=region),
            today=region_today(region),
            locale=region.locale,
            **kwargs,
        )

    @staticmethod
    def _initial(request) -> dict:
        """The first listed amount, or the amount of the gift card product the shopper came
        from (`?product=`; an unknown one is ignored)."""
        region = request.user.region
        amounts = giftcard_amounts_get(region=region)
        initial = {
            "amount": to_major_text(amounts.denominations[0], currency=region.currency),
            # Who it is from: the buyer's name, which they may change (never their e-mail).
            "sender_name": request.user.get_full_name().strip(),
        }
        slug = request.GET.get("product", "")[:200]
        if not slug:
            return initial
        product = (
            Price.objects.filter(
                region=region,
                product__slug=slug,
                product__kind=Product.Kind.GIFT_CARD,
                product__is_active=True,
            )
            .values("product__slug", "amount")
            .first()
        )
        if product is None:
            return initial
        price = product["amount"]
        initial["product"] = product["product__slug"]
        if price in amounts.denominations:
            initial["amount"] = to_major_text(price, currency=region.currency)
        elif amounts.allows(price):
            initial["amount"] = CUSTOM
            initial["custom_amount"] = to_major_text(price, currency=region.currency)
        return initial

    @staticmethod
    def _render(request, form, *, error_reason="", error_message=""):
        context = {
            "form": form,
            "region": request.user.region,
            "error_reason": error_reason,
            "error_message": error_message,
        }
        return render(request, "checkout/giftcard_buy.html", context)
