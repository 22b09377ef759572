"""The buyer's one-time download of a gift card bought for print (docs/interface.md §12)."""

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.views import View

from checkout.models import Order
from checkout.services.giftcard_print import GiftCardNotPrintable, order_gift_card_download


class GiftCardPrintView(LoginRequiredMixin, View):
    """POST (the order page's button, CSRF-checked): the PDF, once. A second POST goes back
    to the order page, which says when it was downloaded; a card that is not for print or
    not ready is a 409 page saying why. GET writes nothing: back to the order page."""

    def get(self, request, number, gift_card_id):
        order = get_object_or_404(Order, user=request.user, number=number)
        return redirect("checkout:order", number=order.number)

    def post(self, request, number, gift_card_id):
        order = get_object_or_404(
            Order.objects.only("pk", "number"), user=request.user, number=number
        )
        try:
            download = order_gift_card_download(
                user=request.user, order_id=order.pk, gift_card_id=gift_card_id
            )
        except GiftCardNotPrintable as refusal:
            if refusal.reason == "missing":
                raise Http404(refusal.message) from None
            if refusal.reason == "downloaded":
                when = date_format(timezone.localtime(refusal.downloaded_at), "j M Y, H:i")
                messages.info(
                    request,
                    f"This gift card was downloaded on {when}: it can be downloaded once only.",
                )
                return redirect("checkout:order", number=order.number)
            return render(
                request,
                "checkout/giftcard_print_refused.html",
                {"order": order, "message": refusal.message, "reason": refusal.reason},
                status=409,
            )
        response = HttpResponse(download.pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{download.filename}"'
        # The PDF holds the code: no cache anywhere may keep a copy (never_cache in the URL
        # conf adds `no-store`; this says it for the bytes too).
        response["X-Content-Type-Options"] = "nosniff"
        return response
