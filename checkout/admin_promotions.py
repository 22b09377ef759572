"""The order admin's promotions: what the order was placed with, and the refund of units
(`order_refund_units`) in two steps as the refund by amounts: the form, then a page stating
what the units paid, what is kept back and where the money goes, with Confirm and Back."""

import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from catalog.admin_money import money_display
from checkout.admin_forms import RefundUnitsForm
from checkout.exceptions import CheckoutError
from checkout.models import Order
from checkout.services import order_refund_units
from checkout.services.refund_units import order_refund_units_preview
from wallet.admin.base import confirmation_stage
from wallet.exceptions import WalletError
from wallet.units import coins_for_value, format_coins


class OrderPromotionsAdminMixin:
    """For the order admin: `promotions_display` and `refund_units_view` (its URL is in
    `OrderAdmin.get_urls`)."""

    @admin.display(description="promotions")
    def promotions_display(self, obj):
        """Each promotion the order was placed with and what it gave (shipping included), as
        stored when it was placed; the per-unit parts are on the lines below."""
        if not obj.promotions:
            return "—"
        return "; ".join(
            f"{p.get('code') or p.get('label') or p.get('slug')}: "
            f"{money_display(p['amount'], obj.currency)}"
            + (
                f" (shipping {money_display(p['shipping_amount'], obj.currency)})"
                if p.get("shipping_amount")
                else ""
            )
            for p in obj.promotions
        )

    def refund_units_view(self, request, order_id):
        """Refund units of the order's lines, in two steps as the refund by amounts: the form
        (units per line, reason), then a page stating what those units paid, what is kept
        back and where the money goes, with Confirm and Back; only the confirmed POST calls
        `order_refund_units` (the same idempotency key rides along both steps)."""
        if not request.user.has_perm("checkout.refund_order"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        lines = list(order.lines.all())
        if request.method == "POST":
            form = RefundUnitsForm(request.POST, lines=lines)
        else:
            form = RefundUnitsForm(initial={"idempotency_key": uuid.uuid4().hex}, lines=lines)
        stage = confirmation_stage(request, form)
        preview = None
        if stage == "confirm":
            try:
                preview = order_refund_units_preview(order=order, units=form.units)
            except CheckoutError as error:
                form.add_error(None, f"Refused: {error}")
                stage = "edit"
        if stage == "post":
            done = self._refund_units_post(request, order, form)
            if done is not None:
                return done
            stage = "edit"
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund units of order {order.number}",
            "order": order,
            "form": form,
            "confirming": stage == "confirm",
            "opts": self.model._meta,
        }
        if preview is not None:
            context["question"] = _refund_units_question(order, form, preview)
        return TemplateResponse(request, "admin/checkout/order/refund_units.html", context)

    def _refund_units_post(self, request, order, form):
        data = form.cleaned_data
        try:
            refund = order_refund_units(
                order_id=order.pk,
                units=form.units,
                reason=data["reason"],
                idempotency_key=f"admin-refund:{data['idempotency_key']}",
                by=request.user,
                card_to_balance=data["card_to_balance"],
            )
        except (CheckoutError, WalletError) as error:
            form.add_error(None, f"Refused: {error}")
            messages.error(request, f"Refund of order {order.number} refused: {error}")
            return None
        kept = (
            f" ({money_display(refund.clawed_back, order.currency)} kept back: promotion)"
            if refund.clawed_back > 0
            else ""
        )
        messages.success(
            request,
            f"Refund of units of order {order.number} posted: "
            f"{money_display(refund.amount, order.currency)}{kept}.",
        )
        return HttpResponseRedirect(reverse("admin:checkout_order_change", args=[order.pk]))


def _refund_units_question(order, form, preview) -> str:
    """The units refund's confirmation: the units, what they paid, what is kept back, where
    the money goes, and why."""
    names = {line.pk: line.product_name for line in form.lines}
    units = ", ".join(f"{count} x {names[line_id]}" for line_id, count in form.units.items())
    kept = (
        f", {money_display(preview.clawed_back, order.currency)} kept back (the units kept no "
        "longer qualify for a promotion)"
        if preview.clawed_back > 0
        else ""
    )
    if preview.bonus_withheld:
        kept += (
            f", {money_display(preview.bonus_withheld, order.currency)} kept back (the gift card "
            "bonus credit the shopper already spent)"
        )
    parts = _parts(order, preview, to_balance=form.cleaned_data["card_to_balance"])
    return (
        f"Refund {units} of order {order.number}: they paid "
        f"{money_display(preview.gross, order.currency)}{kept}; "
        f"{parts or 'nothing'} goes back? Reason: {form.cleaned_data['reason']}"
    )


def _parts(order, preview, *, to_balance: bool) -> str:
    """ "$5.00 to the card and $3.00 to the balance", naming only what moves."""
    parts = []
    if preview.from_card:
        where = "the balance" if to_balance else "the card"
        parts.append(
            f"{money_display(preview.from_card, order.currency)} of the card part (to {where})"
        )
    if preview.from_balance:
        parts.append(
            f"{money_display(preview.from_balance, order.currency)} of the balance part "
            "(to the balance)"
        )
    if preview.from_coins:
        coins = coins_for_value(value=preview.from_coins, currency=order.currency)
        parts.append(
            f"{money_display(preview.from_coins, order.currency)} of the coins part "
            f"(as {format_coins(coins)})"
        )
    shown = " and ".join(parts)
    if preview.pack_coins:
        # A refunded coin pack takes its coins back from the shopper (docs/points.md).
        shown = f"{shown or 'nothing'}; {format_coins(preview.pack_coins)} of the coin packs "
        shown += "are taken back"
    return shown
