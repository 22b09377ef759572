"""The shopper's orders: the history, one order with its payment and promotions, and the
library of digital items bought."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.shortcuts import render
from django.views import View

from checkout.models import Order
from checkout.selectors import library_for_user, order_get_for_user, order_list_for_user


class OrderListView(LoginRequiredMixin, View):
    def get(self, request):
        page = Paginator(order_list_for_user(user=request.user), 20).get_page(
            request.GET.get("page")
        )
        return render(request, "checkout/order_list.html", {"page": page})


class OrderDetailView(LoginRequiredMixin, View):
    def get(self, request, number):
        order = order_get_for_user(user=request.user, number=number)
        context = {
            "order": order,
            # Bought gift cards, each with its delivery's status (never a code).
            "gift_cards": order.bought_gift_cards,
            "gift_card_line_ids": {card.line_id for card in order.bought_gift_cards},
            "timeline": _timeline(order),
            "applied_promotions": _promotions_used(order),
            "bonuses": _bonuses(order),
        }
        return render(request, "checkout/order_detail.html", context)


def _promotions_used(order: Order) -> list[dict]:
    """The promotions an order used, as the order page lists them: its redemptions (what each
    really gave, a budget's trim included), each with the words the summary showed then (the
    order's snapshot), its code as the shopper typed it (a unique code is stored hashed: only
    its last four symbols), none for an automatic offer."""
    labels = {
        entry.get("promotion_id"): entry.get("label", "")
        for entry in getattr(order, "promotions", None) or []
        if isinstance(entry, dict)
    }
    used = []
    for redemption in order.applied_promotions:
        promotion = redemption.promotion
        # A gift card bonus gave credit, not a discount: the order page says so apart.
        if promotion.kind == promotion.Kind.GIFTCARD_BONUS:
            continue
        if promotion.codes == promotion.Codes.AUTOMATIC:
            code = ""
        elif redemption.code is not None and redemption.code.single_use:
            code = f"…{redemption.code.last4}"
        else:
            code = promotion.code
        label = labels.get(promotion.pk) or promotion.description or promotion.name
        used.append({"code": code, "label": label, "amount": redemption.amount})
    return used


def _bonuses(order: Order) -> list[dict]:
    """The gift card bonus credit the order earned (docs/promotions.md): what it promised, and
    whether it was granted, taken back or is still waiting for the payment."""
    bonuses = []
    for redemption in order.applied_promotions:
        if redemption.promotion.kind != redemption.promotion.Kind.GIFTCARD_BONUS:
            continue
        bonus = getattr(redemption, "giftcard_bonus", None)
        bonuses.append(
            {
                "credit": redemption.amount,
                "label": redemption.promotion.description or redemption.promotion.name,
                "status": bonus.status if bonus is not None else "pending",
                "status_label": bonus.get_status_display() if bonus else "Once the card is paid",
            }
        )
    return bonuses


def _timeline(order: Order) -> list[dict]:
    """Placed → shipped → delivered, each with its date once it happened (a digital-only
    order goes straight from placed to delivered)."""
    steps = [{"key": "placed", "label": "Placed", "at": order.created_at}]
    if order.status == Order.Status.PAYMENT_FAILED:
        return [*steps, {"key": "payment_failed", "label": "Payment failed", "at": None}]
    if order.ships:
        steps.append({"key": "shipped", "label": "Shipped", "at": order.shipped_at})
    steps.append({"key": "delivered", "label": "Delivered", "at": order.delivered_at})
    return steps


class LibraryView(LoginRequiredMixin, View):
    """Your library: the digital items bought, delivered at once."""

    def get(self, request):
        page = Paginator(library_for_user(user=request.user), 50).get_page(request.GET.get("page"))
        return render(request, "checkout/library.html", {"page": page})
