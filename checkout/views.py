import uuid

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View

from accounts.forms import AddressForm
from catalog.selectors import shopper_region
from checkout.exceptions import CheckoutError
from checkout.forms import (
    CartLineForm,
    PlaceOrderForm,
    SavedAddressForm,
    ShippingForm,
    UseBalanceForm,
)
from checkout.models import CartGiftCard, Order
from checkout.selectors import (
    cart_gift_cards_get,
    cart_lines_get,
    checkout_addresses_get,
    checkout_quote_get,
)
from checkout.services import (
    cart_add,
    cart_update,
    checkout_address_set,
    checkout_shipping_set,
    checkout_use_balance_set,
    order_place,
)
from checkout.services.cart import cart_giftcard_remove
from wallet.selectors import Balance


def form_error(request, reason, message):
    messages.error(request, message, extra_tags=f"reason:{reason}")


class CartView(View):
    def get(self, request):
        region = shopper_region(request.user)
        lines = cart_lines_get(user=request.user, session=request.session, region_code=region.code)
        gift_cards = cart_gift_cards_get(user=request.user)
        subtotal = sum(line.total for line in lines) + sum(card.amount for card in gift_cards)
        context = {"region": region, "lines": lines, "gift_cards": gift_cards, "subtotal": subtotal}
        return render(request, "checkout/cart.html", context)


class CartAddView(View):
    def post(self, request):
        form = CartLineForm(request.POST)
        if not form.is_valid() or form.cleaned_data["quantity"] == 0:
            form_error(request, "quantity", "Choose a quantity from 1 to 99.")
            return redirect(_same_site(request, request.POST.get("next")) or "checkout:cart")
        try:
            cart_add(
                user=request.user,
                session=request.session,
                slug=form.cleaned_data["product"],
                quantity=form.cleaned_data["quantity"],
            )
        except CheckoutError as error:
            form_error(request, error.reason, error.message)
        else:
            messages.success(request, "Added to your cart.")
        return redirect("checkout:cart")


def _same_site(request, url: str | None) -> str | None:
    """`url` when it stays on this site, else None: a posted `next` must not send the shopper
    to another site (an open redirect)."""
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None


class CartUpdateView(View):
    def post(self, request):
        if "gift_card" in request.POST:
            return self.gift_card_remove(request)
        form = CartLineForm(request.POST)
        if not form.is_valid():
            form_error(request, "quantity", "Choose a quantity from 0 to 99.")
            return redirect("checkout:cart")
        try:
            cart_update(
                user=request.user,
                session=request.session,
                slug=form.cleaned_data["product"],
                quantity=form.cleaned_data["quantity"],
            )
        except CheckoutError as error:
            form_error(request, error.reason, error.message)
        else:
            removed = form.cleaned_data["quantity"] == 0
            messages.success(request, "Removed from your cart." if removed else "Cart updated.")
        return redirect("checkout:cart")

    @staticmethod
    def gift_card_remove(request):
        """POST `gift_card` (its id): take that gift card out of the cart. Only a signed-in
        shopper has gift cards; another shopper's, or none, is a 404."""
        try:
            gift_card_id = int(request.POST["gift_card"])
        except ValueError:
            raise Http404 from None
        # Beyond any id (PostgreSQL's integer would refuse it): none of theirs.
        if not request.user.is_authenticated or not 0 < gift_card_id < 2**63:
            raise Http404
        try:
            cart_giftcard_remove(user=request.user, gift_card_id=gift_card_id)
        except CartGiftCard.DoesNotExist:
            raise Http404 from None
        messages.success(request, "The gift card was removed from your cart.")
        return redirect("checkout:cart")


class CheckoutView(LoginRequiredMixin, View):
    """The order summary: lines, the code box, the balance switch and the card for the rest."""

    def get(self, request):
        return self.render_page(request)

    @staticmethod
    def render_page(
        request,
        *,
        error_reason="",
        error_message="",
        status=200,
        card_error="",
        address_form=None,
        code_typed="",
        error_params=None,
    ):
        quote = checkout_quote_get(user=request.user, session=request.session)
        addresses, address = ([], None)
        if quote.needs_shipping:
            addresses, address = checkout_addresses_get(user=request.user, session=request.session)
        context = {
            "quote": quote,
            "applied_promotions": quote.applied,
            # A refusal already says what the engine's note says: each is shown once.
            "promotion_notes": [
                note
                for note in quote.notes
                if note not in {refusal.message for refusal in quote.refusals}
            ],
            "addresses": addresses,
            "address": address,
            "address_form": address_form
            or AddressForm(region_code=request.user.region_id, auto_id="id_address_%s"),
            # The navigation bar shows the balance the summary used: one read, never two
            # figures that disagree.
            "nav_balance": Balance(amount=quote.balance_available, currency=quote.currency),
            # A fresh key each time the summary is shown: a double click or a replay of this
            # form carries the same key and lands on the same order.
            "idempotency_key": uuid.uuid4().hex,
            "error_reason": error_reason,
            "error_message": error_message,
            # A refused promotional code's figures: `missing` (minimum_not_met) and
            # `conflicts_with` (not_combinable).
            "error_params": error_params or {},
            "card_error": card_error,
            # What the shopper typed in the code box, given back so a typo can be fixed: only
            # when it is not a real card's code (docs/interface.md §7), as on the redeem page.
            "code_typed": code_typed,
            # A refusal is rendered at the POST's address; the page then puts /checkout/ in
            # the address bar (static/js/coinpurse.js), so a reload shows the summary instead
            # of sending the code again (which would count as one more guess).
            "replace_url": reverse("checkout:checkout") if request.method == "POST" else "",
        }
        return render(request, "checkout/checkout.html", context, status=status)


class CheckoutAddressView(LoginRequiredMixin, View):
    """Where the order goes: a saved address (`address`) or a new one, saved to the book."""

    def post(self, request):
        if "address" in request.POST:
            form = SavedAddressForm(request.POST)
            if not form.is_valid():
                form_error(request, "invalid", "Choose one of your saved addresses.")
                return redirect("checkout:checkout")
            checkout_address_set(
                user=request.user,
                session=request.session,
                address_id=form.cleaned_data["address"],
            )
            messages.success(request, "Your order will be sent to the address you chose.")
            return redirect("checkout:checkout")
        form = AddressForm(
            request.POST, region_code=request.user.region_id, auto_id="id_address_%s"
        )
        if not form.is_valid():
            return CheckoutView.render_page(
                request,
                error_reason="address_invalid",
                error_message="Check the address: some fields need a change.",
                address_form=form,
                status=400,
            )
        checkout_address_set(user=request.user, session=request.session, data=form.cleaned_data)
        messages.success(request, "Address saved to your address book.")
        return redirect("checkout:checkout")


class CheckoutShippingView(LoginRequiredMixin, View):
    def post(self, request):
        form = ShippingForm(request.POST)
        if not form.is_valid():
            form_error(request, "invalid", "Choose standard or express shipping.")
            return redirect("checkout:checkout")
        checkout_shipping_set(session=request.session, method=form.cleaned_data["method"])
        messages.info(request, f"{form.cleaned_data['method'].capitalize()} shipping chosen.")
        return redirect("checkout:checkout")


class CheckoutBalanceView(LoginRequiredMixin, View):
    def post(self, request):
        form = UseBalanceForm(request.POST)
        if not form.is_valid():
            # docs/interface.md §6: a refused form says so (it used to be ignored without a word).
            form_error(request, "invalid", "Choose whether to use your balance: on or off.")
            return redirect("checkout:checkout")
        use = form.cleaned_data["use_balance"] == "on"
        checkout_use_balance_set(session=request.session, use_balance=use)
        messages.info(
            request,
            "Your balance will pay first." if use else "Your balance will not be used.",
        )
        return redirect("checkout:checkout")


class PlaceOrderView(LoginRequiredMixin, View):
    def post(self, request):
        form = PlaceOrderForm(request.POST)
        if not form.is_valid():
            return CheckoutView.render_page(
                request,
                error_reason="invalid",
                error_message="This checkout form is no longer valid. Please try again.",
                status=400,
            )
        try:
            order = order_place(
                user=request.user,
                session=request.session,
                idempotency_key=form.cleaned_data["idempotency_key"],
                card_number=form.cleaned_data["card_number"],
                expected_total=form.cleaned_data["expected_total"],
                expected_amount_due=form.cleaned_data["expected_amount_due"],
                expected_balance=form.cleaned_data["expected_balance"],
                expected_coins=form.cleaned_data["expected_coins"],
            )
        except CheckoutError as error:
            return CheckoutView.render_page(
                request, error_reason=error.reason, error_message=error.message
            )
        if order.status == Order.Status.PAYMENT_FAILED:
            # The capture ran on commit and failed: say so plainly, never "thank you".
            messages.error(
                request,
                f"Your card payment for order {order.number} failed. Nothing was charged to "
                "your card, and your balance, coins and cart are as they were.",
            )
        else:
            messages.success(request, f"Thank you! Your order {order.number} is placed.")
        return redirect("checkout:order", number=order.number)
