"""The order admin's refund by amounts (`order_refund`), in two steps as the balance
adjustment: the form (the balance part, the card part and, for an order coins paid, the coins
part), then a page that states the refund in money with Confirm and Back; only the confirmed
POST calls the service."""

import uuid

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse

from catalog.admin_money import money_display
from checkout.admin_forms import OrderRefundForm
from checkout.exceptions import CheckoutError
from checkout.models import Order, Refund
from checkout.services import order_refund
from checkout.services.giftcard_refunds import order_gift_cards_read
from checkout.services.refund_coins import coins_left
from promotions.selectors import giftcard_bonus_withheld_estimate
from wallet.admin.base import confirmation_stage
from wallet.exceptions import WalletError


def _left(order: Order) -> dict[str, int]:
    return {
        "from_balance": order.balance_applied - order.balance_refunded,
        "from_card": order.card_left,
        "from_coins": coins_left(order),
    }


def _left_text(order: Order) -> str:
    """ "$15.00 of the balance part, $39.98 of the card part" (and the coins part when coins
    paid), for the message and the confirmation."""
    left = _left(order)
    text = (
        f"{money_display(left['from_balance'], order.currency)} of the balance part, "
        f"{money_display(left['from_card'], order.currency)} of the card part"
    )
    if order.coins_applied:
        text += f", {money_display(left['from_coins'], order.currency)} of the coins part"
    return text


class OrderRefundAdminMixin:
    """For the order admin: `refund_view` (its URL is in `OrderAdmin.get_urls`)."""

    def refund_view(self, request, order_id):
        """Refund in full or in part, per source, in two steps: the form, then a page that
        states the refund in money ("Refund $5.00 of the balance part … of order CP-…?") with
        Confirm and Back; only the confirmed POST calls `order_refund`. Every field and the
        idempotency key ride along both steps as hidden inputs, so a replayed confirm lands on
        the same refund."""
        if not request.user.has_perm("checkout.refund_order"):
            raise PermissionDenied
        order = get_object_or_404(Order, pk=order_id)
        limits = {
            "currency": order.currency,
            "left": _left(order),
            "coins": order.coins_applied > 0,
        }
        reserved = order_gift_cards_read(order=order).reserved
        if request.method == "POST":
            if "confirm" in request.POST:
                # The service checks what is left, under the order's lock: a replayed confirm
                # of a refund that took all that was left must land on that refund, not on
                # "more than is left".
                limits["left"] = {}
            form = OrderRefundForm(request.POST, **limits)
        else:
            form = OrderRefundForm(initial={"idempotency_key": uuid.uuid4().hex}, **limits)
        stage = confirmation_stage(request, form)
        if stage == "post":
            done = self._refund_post(request, order, form)
            if done is not None:
                return done
        confirming = stage == "confirm"
        left = _left(order)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Refund order {order.number}",
            "order": order,
            "form": form,
            "confirming": confirming,
            "left_balance": money_display(left["from_balance"], order.currency),
            "left_card": money_display(left["from_card"], order.currency),
            "left_coins": money_display(left["from_coins"], order.currency)
            if order.coins_applied
            else "",
            # The card part its gift cards still standing paid: only their lines (or the
            # refund of everything left) give it back (checkout/services/giftcard_refunds.py).
            "gift_cards_part": money_display(reserved, order.currency) if reserved else "",
            "opts": self.model._meta,
        }
        if confirming:
            context |= {
                "title": f"Confirm the refund of order {order.number}",
                "question": _refund_question(order, form.amounts, form.cleaned_data),
            }
        return TemplateResponse(request, "admin/checkout/order/refund.html", context)

    def _refund_post(self, request, order, form):
        """The confirmed refund through `order_refund`: a redirect to the order with the
        amounts and what is left, or None with the refusal on the form."""
        data = form.cleaned_data
        try:
            refund = order_refund(
                order_id=order.pk,
                from_balance=form.amounts["from_balance"],
                from_card=form.amounts["from_card"],
                from_coins=form.amounts["from_coins"],
                card_to_balance=data["card_to_balance"],
                reason=data["reason"],
                idempotency_key=f"admin-refund:{data['idempotency_key']}",
                by=request.user,
            )
        except (CheckoutError, WalletError) as error:
            # A refusal is the staff member's to read, on the page they are on.
            form.add_error(None, f"Refused: {error}")
            messages.error(request, f"Refund of order {order.number} refused: {error}")
            return None
        order.refresh_from_db()
        parts = _refund_parts(
            order,
            {
                "from_balance": refund.from_balance,
                "from_card": refund.from_card,
                "from_coins": refund.from_coins,
            },
            card_to_balance=refund.card_destination == Refund.Destination.BALANCE,
        )
        messages.success(
            request,
            f"Refund of order {order.number} posted: {parts}. Left to refund: {_left_text(order)}.",
        )
        return HttpResponseRedirect(reverse("admin:checkout_order_change", args=[order.pk]))


def _refund_parts(order, amounts: dict[str, int], *, card_to_balance: bool) -> str:
    """ "$5.00 of the balance part (to the balance) and $7.00 of the card part (to the
    card)", naming only the parts that move, for the confirmation and the message."""
    parts = []
    if amounts["from_balance"]:
        money = money_display(amounts["from_balance"], order.currency)
        parts.append(f"{money} of the balance part (to the balance)")
    if amounts["from_card"]:
        money = money_display(amounts["from_card"], order.currency)
        where = "the balance" if card_to_balance else "the card"
        parts.append(f"{money} of the card part (to {where})")
    if amounts.get("from_coins"):
        money = money_display(amounts["from_coins"], order.currency)
        parts.append(f"{money} of the coins part (back as coins)")
    return " and ".join(parts)


def _refund_question(order, amounts: dict[str, int], data: dict) -> str:
    """The confirmation's question: what moves where, from which order, and why."""
    parts = _refund_parts(order, amounts, card_to_balance=data["card_to_balance"])
    gifts = order_gift_cards_read(order=order)
    withheld = 0
    if gifts.standing and amounts["from_card"] >= order.card_left:  # everything left
        withheld = giftcard_bonus_withheld_estimate(
            order_number=order.number, gift_card_total_left=0
        )
    kept = (
        f" ({money_display(withheld, order.currency)} of it kept back: the gift card bonus "
        "credit the shopper already spent)"
        if withheld
        else ""
    )
    return f"Refund {parts}{kept} of order {order.number}? Reason: {data['reason']}"
