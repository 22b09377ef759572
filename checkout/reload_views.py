"""Reload your balance by card, and the auto-reload settings (docs/interface.md §12)."""

import uuid

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.views import View

from catalog.money import format_money, to_major_text
from checkout.exceptions import CheckoutError
from checkout.models import Reload
from checkout.reload_forms import AutoReloadEditForm, ReloadCreateForm
from checkout.reload_selectors import reload_list_for_user
from checkout.services.auto_reloads import auto_reload_get, auto_reload_settings_save
from checkout.services.reloads import (
    IN_PROGRESS,
    reload_amounts_get,
    reload_limits_get,
    reload_make,
)
from wallet.selectors import wallet_balance_get

# The provider being down is not the shopper's mistake: 503, as other pages answer an outage.
ERROR_STATUS = {"provider_unavailable": 503}


def _major(minor: int, currency: str) -> str:
    return to_major_text(minor, currency=currency)


class ReloadView(LoginRequiredMixin, View):
    """ "Reload your balance": an amount from the list or a custom one, charged to a card."""

    template_name = "checkout/reload_create.html"

    def get(self, request):
        return self._render(request)

    def post(self, request):
        region = request.user.region
        form = ReloadCreateForm(request.POST, currency=region.currency)
        if not form.is_valid():
            reason, message = form.error_reason()
            return self._render(request, form=form, reason=reason, message=message)
        try:
            result = reload_make(
                user=request.user,
                amount=form.cleaned_data["amount_minor"],
                card_number=form.cleaned_data["card_number"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except CheckoutError as refusal:
            return self._render(
                request,
                form=form,
                reason=refusal.reason,
                message=refusal.message,
                status=ERROR_STATUS.get(refusal.reason, 200),
            )
        reload = result.reload
        if reload.status != Reload.Status.COMPLETED:
            messages.info(request, IN_PROGRESS)
        else:
            amount = format_money(reload.amount, currency=reload.currency, locale=region.locale)
            messages.success(
                request,
                f"{amount} was added to your balance from your card ending {reload.card_last4}.",
            )
        return redirect("wallet:overview")

    def _render(self, request, *, form=None, reason="", message="", status=200):
        region = request.user.region
        currency = region.currency
        low, high = reload_limits_get(region=region)
        amounts = [
            {"value": _major(minor, currency), "minor": minor}
            for minor in reload_amounts_get(region=region)
        ]
        chosen = (form.data.get("amount", "") if form is not None else "") or amounts[0]["value"]
        listed = {a["value"] for a in amounts}
        context = {
            "amounts": amounts,
            "chosen": chosen if chosen in listed else "custom",
            "custom_amount": (
                form.data.get("custom_amount") or (chosen if chosen not in listed else "")
                if form is not None
                else ""
            ),
            "low": low,
            "high": high,
            "currency": currency,
            "balance": wallet_balance_get(user=request.user),
            "reloads": reload_list_for_user(user=request.user),
            # A new key for every form shown: after a refusal the next try is a new reload
            # (the refused key answers its refusal again, as a replay should).
            "idempotency_key": uuid.uuid4().hex,
            "error_reason": reason,
            "error_message": message,
        }
        return render(request, self.template_name, context, status=status)


class AutoReloadView(LoginRequiredMixin, View):
    """The shopper's auto-reload: on/off, threshold, amount and the saved card (…last4)."""

    template_name = "checkout/reload_auto_edit.html"

    def get(self, request):
        return self._render(request, auto=auto_reload_get(user=request.user))

    def post(self, request):
        region = request.user.region
        form = AutoReloadEditForm(request.POST, currency=region.currency)
        auto = auto_reload_get(user=request.user)
        if not form.is_valid():
            reason, message = form.error_reason()
            return self._render(request, auto=auto, form=form, reason=reason, message=message)
        data = form.cleaned_data
        try:
            auto = auto_reload_settings_save(
                user=request.user,
                enabled=data["enabled"],
                threshold=data["threshold"],
                amount=data["amount"],
                card_number=data["card_number"],
            )
        except CheckoutError as refusal:
            return self._render(
                request,
                auto=auto,
                form=form,
                reason=refusal.reason,
                message=refusal.message,
                status=ERROR_STATUS.get(refusal.reason, 200),
            )
        if auto is not None and auto.enabled:
            locale = region.locale
            threshold = format_money(auto.threshold, currency=auto.currency, locale=locale)
            amount = format_money(auto.amount, currency=auto.currency, locale=locale)
            messages.success(
                request,
                f"Auto-reload is on: when a purchase leaves your balance below {threshold}, "
                f"{amount} is reloaded from your card ending {auto.card.card_last4}.",
            )
        else:
            messages.success(request, "Auto-reload is off.")
        return redirect("checkout:auto_reload")

    def _render(self, request, *, auto, form=None, reason="", message="", status=200):
        region = request.user.region
        currency = region.currency
        low, high = reload_limits_get(region=region)
        if form is not None:
            values = {
                "enabled": form.data.get("enabled") in ("on", "true", "1"),
                "threshold": form.data.get("threshold", ""),
                "amount": form.data.get("amount", ""),
            }
        elif auto is not None:
            values = {
                "enabled": auto.enabled,
                "threshold": _major(auto.threshold, auto.currency),
                "amount": _major(auto.amount, auto.currency),
            }
        else:
            values = {"enabled": False, "threshold": "", "amount": ""}
        context = {
            "auto": auto,
            "values": values,
            "low": low,
            "high": high,
            "currency": currency,
            "amounts": [_major(minor, currency) for minor in reload_amounts_get(region=region)],
            "reloads": [
                r for r in reload_list_for_user(user=request.user) if r.kind == Reload.Kind.AUTO
            ],
            "error_reason": reason,
            "error_message": message,
        }
        return render(request, self.template_name, context, status=status)
