"""Gift cards: masked codes, search by a full code through its keyed hash, disable/enable."""

import re

from django.contrib import admin
from django.contrib.admin.views.main import SEARCH_VAR
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path
from django.utils.html import format_html

from wallet.admin.base import ReadOnlyAdmin, money_display, post_action
from wallet.codes import CodeTypo, code_hash, code_normalize
from wallet.exceptions import WalletError
from wallet.forms import ReasonForm
from wallet.models import (
    GiftCard,
)
from wallet.services import (
    giftcard_status_set,
)


def _code_digest(term: str) -> str | None:
    """The keyed hash of `term` when it is a full claim code, else None."""
    try:
        return code_hash(code_normalize(term.strip()))
    except CodeTypo:
        return None


class CodeSearchMixin:
    """Search by a full claim code as typed by support: normalised and hashed at look-up."""

    HASH_TERM = re.compile(r"^hash:([0-9a-f]{64})$")

    def changelist_view(self, request, extra_context=None):
        # The changelist writes the search term back into the page (the search box, every
        # filter and change link): a full code is swapped for its keyed hash first, so no page
        # shows a full code again (CONTRACT §7), nor does the browser's history.
        digest = _code_digest(request.GET.get(SEARCH_VAR, ""))
        if digest is not None:
            params = request.GET.copy()
            params[SEARCH_VAR] = f"hash:{digest}"
            return HttpResponseRedirect(f"{request.path}?{params.urlencode()}")
        return super().changelist_view(request, extra_context)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        hashed = self.HASH_TERM.match(term)
        digest = hashed.group(1) if hashed else _code_digest(term)
        if digest is not None:
            return queryset.filter(code_hash=digest), False
        if len(term) == 4:
            return queryset.filter(last4=term.upper()), False
        return super().get_search_results(request, queryset, search_term)


@admin.register(GiftCard)
class GiftCardAdmin(CodeSearchMixin, ReadOnlyAdmin):
    list_display = [
        "id",
        "masked_code",
        "amount_display",
        "region",
        "status",
        "batch",
        "expires_on",
        "redeemed_by",
        "redeemed_at",
    ]
    list_filter = ["status", "region", "expires_on", ("batch", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["last4"]
    search_help_text = "Type a full claim code (any case, dashes optional) or its last 4 symbols."
    list_select_related = ["region", "batch", "redeemed_by"]
    readonly_fields = [
        "masked_code",
        "amount_display",
        "region",
        "status",
        "status_reason",
        "batch",
        "expires_on",
        "created_at",
        "redeemed_by",
        "redeemed_at",
    ]
    fields = readonly_fields
    change_form_template = "admin/wallet/giftcard/change_form.html"

    @admin.display(description="code", ordering="last4")
    def masked_code(self, obj):
        return format_html('<span style="white-space:nowrap">{}</span>', obj.masked_code)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "card": get_object_or_404(GiftCard, pk=object_id),
            "can_change_status": request.user.has_perm("wallet.change_giftcard"),
            "reason_form": ReasonForm(),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        return [
            path(
                "<int:card_id>/status/",
                self.admin_site.admin_view(self.status_view),
                name="wallet_giftcard_status",
            ),
            *super().get_urls(),
        ]

    def status_view(self, request, card_id):
        def change():
            form = ReasonForm(request.POST)
            if not form.is_valid():
                raise WalletError("a reason is required")
            status = request.POST.get("status", "")
            card = giftcard_status_set(
                card_id=card_id, status=status, reason=form.cleaned_data["reason"], by=request.user
            )
            return f"Gift card {card.masked_code} is now {card.get_status_display().lower()}."

        return post_action("admin:wallet_giftcard_change", request, card_id, change)
