"""The checkout's one code box (docs/interface.md §11): a claim code is redeemed into the
balance, a promotional code priced with the cart and kept when it applies; and taking an
entered promotional code out again."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.utils.formats import date_format
from django.views import View
from django.views.decorators.debug import sensitive_variables

from accounts.network import client_ip
from catalog.money import format_money
from checkout.forms import CheckoutCodeForm
from checkout.services.promo_codes import (
    PromoCodeRefused,
    checkout_promo_code_enter,
    checkout_promo_code_remove,
)
from checkout.views import CheckoutView, form_error
from wallet.codes import CodeTypo, code_may_be_shown, code_normalize
from wallet.exceptions import CodeRefused
from wallet.services import giftcard_redeem


class CheckoutCodeView(LoginRequiredMixin, View):
    """One box for codes: a claim code is redeemed into the balance (and so applied); a
    promotional code is priced with the cart and kept when it applies, or refused with its
    reason (checkout/services/promo_codes.py); a credit code fills the balance at once."""

    @method_decorator(sensitive_variables("code"))
    def post(self, request):
        form = CheckoutCodeForm(request.POST)
        if not form.is_valid():
            typed = request.POST.get("code", "").strip()
            # Empty: `required`; too long to be any code: a `typo`, as on the redeem page.
            return CheckoutView.render_page(
                request,
                error_reason="typo" if typed else "required",
                error_message=form.errors["code"][0],
                code_typed=_given_back(typed[:64], "typo" if typed else "required"),
            )
        code = form.cleaned_data["code"]
        # Only a valid claim code is a gift card; any other text of the promotional shape is
        # looked up as a promotional code (a long one no promotion has is answered as a
        # mistyped claim code there), so a vanity code of 13-17 symbols can be used.
        if not _is_claim_code(code):
            return self.promo_code_enter(request, code)
        try:
            redemption = giftcard_redeem(user=request.user, code=code, ip=client_ip(request))
        except CodeRefused as refusal:
            # Locked out: 429; the shared cache is down: 503 `unavailable`, nothing written,
            # and a hint of when to try again, as on the redeem page.
            response = CheckoutView.render_page(
                request,
                error_reason=refusal.reason,
                error_message=refusal.message,
                status={"locked": 429, "unavailable": 503}.get(refusal.reason, 200),
                code_typed=_given_back(code, refusal.reason),
            )
            if refusal.reason == "unavailable":
                response["Retry-After"] = "60"
            return response
        locale = request.user.region.locale
        amount = format_money(redemption.card.amount, currency=redemption.currency, locale=locale)
        messages.success(request, f"Gift card applied: {amount} was added to your balance.")
        return redirect("checkout:checkout")

    @method_decorator(sensitive_variables("code"))
    def promo_code_enter(self, request, code):
        try:
            result = checkout_promo_code_enter(
                user=request.user, session=request.session, code=code, ip=client_ip(request)
            )
        except PromoCodeRefused as refusal:
            response = CheckoutView.render_page(
                request,
                error_reason=refusal.reason,
                error_message=refusal.message,
                error_params=refusal.params,
                status=refusal.status,
                # Given back to be corrected when no promotion has it (`_given_back`); a code
                # that exists is not shown again in the box (it is in the message when it
                # matters).
                code_typed=_given_back(code, refusal.reason),
            )
            if refusal.reason == "unavailable":
                response["Retry-After"] = "60"
            return response
        locale = request.user.region.locale
        currency = request.user.region.currency
        if result.already_entered:
            messages.info(request, f"{result.code} is already entered for this order.")
        elif result.credit:
            amount = format_money(result.credit, currency=currency, locale=locale)
            until = date_format(result.expires_on, "j F Y")
            messages.success(
                request,
                f"{result.label} applied: {amount} of promotional credit was added to your "
                f"balance, to spend by {until}.",
            )
        elif result.bonus_credit:
            amount = format_money(result.bonus_credit, currency=currency, locale=locale)
            messages.success(
                request,
                f"Applied {result.label}. You will receive {amount} of promotional credit "
                "once the order is paid.",
            )
        else:
            amount = format_money(result.amount, currency=currency, locale=locale)
            messages.success(request, f"Applied {result.label}. You save {amount}.")
        return redirect("checkout:checkout")


class CheckoutCodeRemoveView(LoginRequiredMixin, View):
    """Take an entered promotional code out of the order (POST `code`)."""

    def post(self, request):
        try:
            code = checkout_promo_code_remove(
                session=request.session, code=request.POST.get("code", "")[:64]
            )
        except PromoCodeRefused as refusal:
            form_error(request, refusal.reason, refusal.message)
        else:
            messages.success(request, f"{code} was removed from your order.")
        return redirect("checkout:checkout")


def _given_back(text: str, reason: str) -> str:
    """What the box shows again after a refusal, to be corrected: a mistyped or unknown text,
    unless it holds a real claim code (a symbol too many, an odd character between its groups:
    `code_may_be_shown`); a well-formed claim code no card has may be."""
    if reason not in ("typo", "not_found"):
        return ""
    return text if code_may_be_shown(text) or _is_claim_code(text) else ""


def _is_claim_code(text: str) -> bool:
    """A claim code: 15 symbols with a valid check symbol (docs/interface.md §7)."""
    try:
        code_normalize(text)
    except CodeTypo:
        return False
    return True
