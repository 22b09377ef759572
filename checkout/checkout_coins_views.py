"""The checkout's coins switch: POST /checkout/coins/ (docs/interface.md §13), as the balance
switch works (POST /checkout/balance/)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.views import View

from checkout.forms import UseCoinsForm
from checkout.services.checkout_coins import checkout_use_coins_set
from checkout.views import CheckoutView


class CheckoutCoinsView(LoginRequiredMixin, View):
    """POST `use_coins` = on/off: whether coins pay the digital items first. Anything else is
    refused with the summary and a 400, and the switch stays as it was."""

    def post(self, request):
        form = UseCoinsForm(request.POST)
        if not form.is_valid():
            return CheckoutView.render_page(
                request,
                error_reason="invalid",
                error_message="Choose whether to use your coins: on or off.",
                status=400,
            )
        use = form.cleaned_data["use_coins"] == "on"
        checkout_use_coins_set(session=request.session, use_coins=use)
        messages.info(
            request,
            "Your coins will pay for digital items first."
            if use
            else "Your coins will not be used.",
        )
        return redirect("checkout:checkout")
