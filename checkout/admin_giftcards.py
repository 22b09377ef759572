"""Staff pages for bought gift cards (registered from checkout/admin.py): each card's delivery
(pending, sent, failed with its last error and attempts), found by order number or recipient,
"Send again to a corrected address" and "Let the buyer download it again". The queue's own
jobs are on django-tasks-db's page (Task results: status, worker, error). No page shows a
code: none is stored.
"""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from catalog.admin_money import money_display
from checkout.models import OrderGiftCard
from checkout.services.giftcard_resend import order_gift_card_print_again, order_gift_card_resend
from wallet.admin import ReadOnlyAdmin
from wallet.exceptions import WalletError

RESEND_PERMISSION = "checkout.change_ordergiftcard"


class GiftCardPrintAgainForm(forms.Form):
    """Why a printable card may be downloaded once more (the audit entry keeps it)."""

    reason = forms.CharField(max_length=200, widget=forms.Textarea(attrs={"rows": 2}))


class GiftCardResendForm(GiftCardPrintAgainForm):
    """Where to send a bought gift card again, and why (the audit entry keeps both)."""

    email = forms.EmailField(label="Corrected e-mail address")
    field_order = ["email", "reason"]


@admin.register(OrderGiftCard)
class OrderGiftCardAdmin(ReadOnlyAdmin):
    list_display = [
        "order",
        "recipient_name",
        "recipient_email",
        "amount_display",
        "delivery",
        "status",
        "attempts",
        "last_error",
        "send_on",
        "sent_at",
    ]
    # A delivery that failed must be easy to find: by its status (failed, or scheduled with
    # attempts) and by how it is delivered.
    list_filter = ["status", "delivery", "send_on"]
    search_fields = ["order__number", "recipient_email"]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    readonly_fields = [
        "order",
        "line",
        "amount_display",
        "delivery",
        "recipient_name",
        "recipient_email",
        "message",
        "design",
        "send_on",
        "status",
        "card",
        "attempts",
        "next_attempt_at",
        "last_error",
        "claimed_until",
        "sent_at",
        "resent_count",
        "downloaded_at",
        "downloaded_by",
        "created_at",
        "updated_at",
    ]
    fields = readonly_fields
    change_form_template = "admin/checkout/ordergiftcard/change_form.html"

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)

    def get_urls(self):
        return [
            path(
                "<int:gift_card_id>/resend/",
                self.admin_site.admin_view(self.resend_view),
                name="checkout_ordergiftcard_resend",
            ),
            path(
                "<int:gift_card_id>/print-again/",
                self.admin_site.admin_view(self.print_again_view),
                name="checkout_ordergiftcard_print_again",
            ),
            *super().get_urls(),
        ]

    def resend_view(self, request, gift_card_id):
        """Send an e-mail card again to a corrected address (`order_gift_card_resend`)."""
        return self._staff_action(
            request,
            gift_card_id,
            form_class=GiftCardResendForm,
            act=lambda gift, data: order_gift_card_resend(
                gift_card_id=gift.pk, email=data["email"], reason=data["reason"], by=request.user
            ),
            done=lambda gift, data: (
                f"The gift card of order {gift.order.number} will be sent again to "
                f"{data['email']}; the code it had no longer works."
            ),
            title="Send the gift card of order {number} again",
            template="admin/checkout/ordergiftcard/resend.html",
        )

    def print_again_view(self, request, gift_card_id):
        """Let the buyer download a printable card once more (`order_gift_card_print_again`)."""
        return self._staff_action(
            request,
            gift_card_id,
            form_class=GiftCardPrintAgainForm,
            act=lambda gift, data: order_gift_card_print_again(
                gift_card_id=gift.pk, reason=data["reason"], by=request.user
            ),
            done=lambda gift, data: (
                f"The buyer of order {gift.order.number} can download the card once more; "
                "the code printed before no longer works."
            ),
            title="Let the buyer of order {number} print the card again",
            template="admin/checkout/ordergiftcard/print_again.html",
        )

    def _staff_action(self, request, gift_card_id, *, form_class, act, done, title, template):
        """GET: the action's form. POST: the action's one service call (`act`), then back to
        the card with what happened (`done`); a refusal stays on the form with its reason,
        and nothing was written."""
        if not request.user.has_perm(RESEND_PERMISSION):
            raise PermissionDenied
        gift = get_object_or_404(OrderGiftCard.objects.select_related("order"), pk=gift_card_id)
        form = form_class(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                act(gift, form.cleaned_data)
            except WalletError as error:
                form.add_error(None, f"Refused: {error}")
            else:
                messages.success(request, done(gift, form.cleaned_data))
                return HttpResponseRedirect(
                    reverse("admin:checkout_ordergiftcard_change", args=[gift.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": title.format(number=gift.order.number),
            "gift": gift,
            "form": form,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, template, context)
