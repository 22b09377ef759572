"""Gift cards: masked codes, look-up by a full code (a POST, audited), disable/enable."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.html import format_html
from django.views.decorators.debug import sensitive_post_parameters

from wallet.admin.base import ReadOnlyAdmin, money_display, post_action
from wallet.codes import CodeTypo, code_hash, code_mask, code_normalize
from wallet.exceptions import WalletError
from wallet.forms import ReasonForm
from wallet.models import AuditEntry, GiftCard
from wallet.services import audit_record, giftcard_status_set


class CodeSearchForm(forms.Form):
    code = forms.CharField(
        max_length=64,
        label="Full claim code",
        help_text="Any case; dashes and spaces optional. "
        "Every look-up is recorded in the audit log.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "size": 24}),
    )


def _typed_tail(text: str) -> str:
    """The last four symbols of what was typed: the most a page may echo of a code."""
    return text.upper().replace(" ", "").replace("-", "")[-4:]


class CodeSearchMixin:
    """Support looks a card up by the full code a shopper reads out. The code travels only in
    a POST body (never in a URL, so never in the browser's history or an access log); it is
    normalised and hashed, the result page shows only its last four symbols, and every
    look-up is audited (docs/interface.md §7, §9)."""

    change_list_template = "admin/wallet/giftcard/change_list.html"
    code_search_template = "admin/wallet/giftcard/code_search.html"

    def changelist_view(self, request, extra_context=None):
        # The search box is a GET: only the last 4 symbols belong there. Anything longer may
        # be (nearly) a full code already in this request's URL: drop it from the address the
        # browser keeps and point to the code search instead of searching by it.
        term = request.GET.get(SEARCH_VAR, "")
        if len(term.replace(" ", "").replace("-", "")) > 4:
            params = request.GET.copy()
            del params[SEARCH_VAR]
            messages.warning(
                request,
                "Only the last 4 symbols go in the search box: look a full code up with "
                "“Find a card by its full code”, which never puts it in an address.",
            )
            query = params.urlencode()
            return HttpResponseRedirect(f"{request.path}?{query}" if query else request.path)
        extra_context = {**(extra_context or {}), "code_search_form": CodeSearchForm()}
        return super().changelist_view(request, extra_context)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if len(term) == 4:
            return queryset.filter(last4=term.upper()), False
        return super().get_search_results(request, queryset, search_term)

    def code_search_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Find a gift card by its full code",
            # Always a fresh form: the page never writes the typed code back into the box.
            "form": CodeSearchForm(),
            "searched": False,
        }
        if request.method == "POST":
            context.update(self._code_search(request))
        return TemplateResponse(request, self.code_search_template, context)

    def _code_search(self, request) -> dict:
        form = CodeSearchForm(request.POST)
        if not form.is_valid():
            return {"error": "Type the full claim code."}
        typed = form.cleaned_data["code"]
        try:
            code = code_normalize(typed)
        except CodeTypo:
            return {
                "error": "That is not a full claim code (15 symbols, like XXXX-XXXXXX-XXXXX). "
                "To search by the last 4 symbols, use the search box of the list.",
                "typed_masked": code_mask(_typed_tail(typed)),
            }
        card = (
            GiftCard.objects.select_related("region", "batch")
            .filter(code_hash=code_hash(code))
            .first()
        )
        audit_record(
            actor=request.user,
            action=AuditEntry.Action.CODE_SEARCHED,
            target=f"gift card #{card.pk}" if card else "no gift card",
            detail=f"code ending {code[-4:]}: {'found' if card else 'no match'}",
        )
        return {
            "searched": True,
            "card": card,
            "amount": money_display(card.amount, card.currency) if card else "",
            "typed_masked": code_mask(code[-4:]),
        }

    def get_urls(self):
        view = self.admin_site.admin_view(sensitive_post_parameters("code")(self.code_search_view))
        return [
            path("code-search/", view, name="wallet_giftcard_code_search"),
            *super().get_urls(),
        ]


@admin.register(GiftCard)
class GiftCardAdmin(CodeSearchMixin, ReadOnlyAdmin):
    # What fits 1280 px beside the filters (the code opens the card); the batch and who
    # redeemed it are on the card's page.
    list_display = [
        "masked_code",
        "amount_display",
        "region_code",
        "status",
        "expires_on_display",
        "redeemed_at",
    ]
    list_display_links = ["masked_code"]
    list_filter = ["status", "region", "expires_on", ("batch", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["last4"]
    # The GET search box holds the last 4 symbols at most (templates/admin/search_form.html):
    # a full code there would reach the address bar and the access log.
    search_label = "Last 4 symbols"
    search_max_length = 4
    search_help_text = (
        "The last 4 symbols of a code. For a full code use “Find a card by its full code”."
    )
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
        return format_html('<span class="nowrap">{}</span>', obj.masked_code)

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)

    @admin.display(description="region", ordering="region")
    def region_code(self, obj):
        return obj.region_id

    @admin.display(description="expires", ordering="expires_on")
    def expires_on_display(self, obj):
        return obj.expires_on or "never"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        card = self.get_object(request, object_id)
        if card is None:
            raise Http404("No such gift card.")
        extra_context = {
            **(extra_context or {}),
            "card": card,
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

        return post_action(self, request, card_id, change)
