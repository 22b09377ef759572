"""Subscribe & Save pages (docs/subscriptions.md, docs/interface.md §14): the shopper's list of
subscriptions, starting one from a product page, and the actions on one (skip the next
delivery, pause, resume, change, cancel).

Thin: each action binds its form, calls one service, and says what happened in a flash message
after a redirect to the list. A refusal (`SubscriptionError`, a declined card) re-renders the
page the form was on, with `form-error` and its `data-reason`; nothing was written. Another
shopper's subscription is a 404, as one that does not exist.
"""

import datetime

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.formats import date_format
from django.views import View

from catalog.money import format_money
from catalog.selectors import products_by_slug
from checkout.exceptions import CheckoutError
from subscriptions.exceptions import SubscriptionError
from subscriptions.forms import (
    SubscribeForm,
    SubscriptionCardForm,
    SubscriptionChangeForm,
    SubscriptionSkipForm,
)
from subscriptions.models import EVERY_CHOICES, Subscription
from subscriptions.selectors import (
    subscription_active_count,
    subscription_get_for_user,
    subscription_list_for_user,
    subscription_price,
    subscription_skipped_on,
)
from subscriptions.services import (
    subscription_cancel,
    subscription_card_save,
    subscription_change,
    subscription_create,
    subscription_pause,
    subscription_resume,
    subscription_skip,
)

PER_PAGE = 20
ID_MAX = 2**63  # a BigAutoField: beyond it no row can exist (and the database would refuse)


def _day(day: datetime.date) -> str:
    return date_format(day, "j F Y")


def _money(request, minor: int, currency: str) -> str:
    region = request.user.region
    locale = region.locale if region.currency == currency else None
    return format_money(minor, currency=currency, locale=locale)


def _what(sub: Subscription) -> str:
    """What is delivered how often, in words: "2 x Coffee beans every 3 months"."""
    every = "every month" if sub.every == 1 else f"every {sub.every} months"
    return f"{sub.quantity} \N{MULTIPLICATION SIGN} {sub.product.name} {every}"


def _price_words(request, sub: Subscription) -> str:
    """The delivery's price now, as the list shows it: "$36.08 a delivery (5% off)"."""
    priced = subscription_get_for_user(user=request.user, subscription_id=sub.pk)
    price = subscription_price(priced, active_count=subscription_active_count(user=request.user))
    if price is None:
        return "no longer priced"
    total = _money(request, price.total, priced.region.currency)
    return f"{total} a delivery ({price.percent}% off)"


def _own(request, subscription_id: int) -> Subscription:
    """The shopper's subscription for a page (a 404 for anyone else's, or none)."""
    if not 0 < subscription_id < ID_MAX:
        raise Http404
    try:
        return subscription_get_for_user(user=request.user, subscription_id=subscription_id)
    except Subscription.DoesNotExist:
        raise Http404 from None


def list_page(request, *, error: tuple[str, str] | None = None, status: int = 200):
    """/subscriptions/: the shopper's subscriptions, 20 a page, each priced as its next
    delivery would be now; with `error` (reason, message) a refused action's words."""
    page = Paginator(subscription_list_for_user(user=request.user), PER_PAGE).get_page(
        request.GET.get("page")
    )
    active_count = subscription_active_count(user=request.user)
    rows = [(sub, subscription_price(sub, active_count=active_count)) for sub in page]
    context = {
        "page": page,
        "rows": rows,
        "active_count": active_count,
        "every_choices": EVERY_CHOICES,
        "error": error,
        # After a refused POST the page's own links must lead to the list, not the action.
        "base_url": reverse("subscriptions:list") if request.method == "POST" else "",
        # A refusal is rendered at the POST's address: the address bar shows the list again,
        # so a reload does not send the form twice (static/js/coinpurse.js).
        "replace_url": reverse("subscriptions:list") if request.method == "POST" else "",
    }
    return render(request, "subscriptions/subscription_list.html", context, status=status)


class SubscriptionListView(LoginRequiredMixin, View):
    """GET the list; POST starts a subscription (the product page's subscribe form)."""

    def get(self, request):
        return list_page(request)

    def post(self, request):
        form = SubscribeForm(request.POST)
        if not form.is_valid():
            return self.refused(request, form, *form.refusal())
        data = form.cleaned_data
        try:
            sub = subscription_create(
                user=request.user,
                product_slug=data["product"],
                quantity=data["quantity"],
                every=data["every"],
                card_number=data["card_number"],
            )
        except (SubscriptionError, CheckoutError) as error:  # a card refused, the provider down
            return self.refused(request, form, error.reason, error.message)
        messages.success(
            request,
            f"Subscribed: {_what(sub)}, "
            f"{_price_words(request, sub)}. Your first delivery is on {_day(sub.next_date)}; "
            "you can skip, change or cancel it below.",
        )
        return redirect("subscriptions:list")

    @staticmethod
    def refused(request, form, reason: str, message: str):
        """The product page again with the refusal and what was chosen (never the card
        number); the list page when the product itself is unknown or already subscribed to."""
        slug = form.cleaned_data.get("product") if hasattr(form, "cleaned_data") else None
        region = request.user.region
        product = (
            products_by_slug(slugs=[slug], region_code=region.code).get(slug) if slug else None
        )
        # Already subscribed (a double click, another tab): the list, where that subscription
        # can be changed, as the refusal's words say.
        if product is None or reason == "already_subscribed":
            return list_page(request, error=(reason, message))
        context = {
            "product": product,
            "region": region,
            "subscribe_error": (reason, message),
            "subscribe_values": {
                "quantity": form.cleaned_data.get("quantity") or 1,
                "every": form.cleaned_data.get("every") or 1,
            },
            "replace_url": reverse("catalog:product", kwargs={"slug": product.slug}),
        }
        return render(request, "catalog/product_detail.html", context)


class SubscriptionCardView(LoginRequiredMixin, View):
    """POST a new card that pays the shopper's deliveries (after the balance)."""

    http_method_names = ["post"]

    def post(self, request):
        form = SubscriptionCardForm(request.POST)
        if not form.is_valid():
            return list_page(request, error=form.refusal())
        try:
            card = subscription_card_save(
                user=request.user, card_number=form.cleaned_data["card_number"]
            )
        except (SubscriptionError, CheckoutError) as error:  # a card refused, the provider down
            return list_page(request, error=(error.reason, error.message))
        messages.success(
            request,
            f"Card saved: your deliveries are paid by the card ending {card.card_last4} "
            "(after your balance) from the next one on.",
        )
        return redirect("subscriptions:list")


class _IdInRange:
    """An id no row can have is a 404 whatever the method (after the sign-in check)."""

    def dispatch(self, request, *args, **kwargs):
        if not 0 < kwargs["subscription_id"] < ID_MAX:
            raise Http404
        return super().dispatch(request, *args, **kwargs)


class _ActionView(LoginRequiredMixin, _IdInRange, View):
    """POST one action on the shopper's subscription: `act` calls its service and returns the
    flash message; a refusal re-renders the list with the reason."""

    http_method_names = ["post"]

    def post(self, request, subscription_id):
        try:
            message = self.act(request, subscription_id)
        except Subscription.DoesNotExist:
            raise Http404 from None
        except SubscriptionError as error:
            return list_page(request, error=(error.reason, error.message))
        messages.success(request, message)
        return redirect("subscriptions:list")

    def act(self, request, subscription_id: int) -> str:
        raise NotImplementedError


class SubscriptionSkipView(_ActionView):
    """GET: "Skip the delivery of 1 January?" (the reminder e-mail links here with `?date=`);
    POST skips the delivery of `due_date` (the date the shopper saw) and only that one."""

    http_method_names = ["get", "post"]

    def get(self, request, subscription_id):
        sub = _own(request, subscription_id)
        form = SubscriptionSkipForm({"due_date": request.GET.get("date", "")})
        asked = form.cleaned_data["due_date"] if form.is_valid() else None
        context = {
            "subscription": sub,
            "due_date": asked or sub.next_date,
            # The e-mail's date is no longer the next delivery (skipped, placed, changed).
            "moved": asked is not None and asked != sub.next_date,
            "active": sub.status == Subscription.Status.ACTIVE,
        }
        return render(request, "subscriptions/skip_confirm.html", context)

    def act(self, request, subscription_id):
        form = SubscriptionSkipForm(request.POST)
        if not form.is_valid():
            _own(request, subscription_id)  # another shopper's is a 404 whatever was posted
            raise SubscriptionError("Choose the delivery to skip again.", reason="invalid")
        due_date = form.cleaned_data["due_date"]
        sub = subscription_skip(
            user=request.user, subscription_id=subscription_id, due_date=due_date
        )
        if due_date is not None and due_date >= sub.next_date:
            # The next delivery was no longer that one (changed in another tab): none skipped.
            return f"Nothing skipped: your next delivery is on {_day(sub.next_date)}."
        if due_date is not None and not subscription_skipped_on(sub, due_date=due_date):
            return (
                f"The delivery of {_day(due_date)} is no longer to come (placed or passed): "
                f"your next delivery is on {_day(sub.next_date)}."
            )
        return f"Skipped: your next delivery is on {_day(sub.next_date)}."


class SubscriptionPauseView(_ActionView):
    def act(self, request, subscription_id):
        sub = subscription_pause(user=request.user, subscription_id=subscription_id)
        return f"Paused: no delivery of {sub.product.name} until you resume it."


class SubscriptionResumeView(_ActionView):
    def act(self, request, subscription_id):
        sub = subscription_resume(user=request.user, subscription_id=subscription_id)
        return f"Resumed: your next delivery of {sub.product.name} is on {_day(sub.next_date)}."


class SubscriptionChangeView(_ActionView):
    def act(self, request, subscription_id):
        form = SubscriptionChangeForm(request.POST)
        if not form.is_valid():
            reason, message = form.refusal()
            raise SubscriptionError(message, reason=reason)
        sub = subscription_change(
            user=request.user,
            subscription_id=subscription_id,
            quantity=form.cleaned_data["quantity"],
            every=form.cleaned_data["every"],
        )
        return (
            f"Changed: {_what(sub)}, "
            f"{_price_words(request, sub)}, next delivery on {_day(sub.next_date)}."
        )


class SubscriptionCancelView(_ActionView):
    """GET: "Cancel your subscription to …?" (the list's Cancel button); POST cancels."""

    http_method_names = ["get", "post"]

    def get(self, request, subscription_id):
        sub = _own(request, subscription_id)
        return render(request, "subscriptions/cancel_confirm.html", {"subscription": sub})

    def act(self, request, subscription_id):
        sub = subscription_cancel(user=request.user, subscription_id=subscription_id)
        return (
            f"Cancelled: no more deliveries of {sub.product.name}. The orders already placed "
            "stay in your orders."
        )
