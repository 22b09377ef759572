"""Accounts, transfers and postings: read-only; a balance changes only through an adjustment."""

import uuid

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from wallet.admin.base import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    admin_form,
    approval_threshold_display,
    confirmation_stage,
    money_display,
    object_or_404,
)
from wallet.exceptions import WalletError
from wallet.forms import BalanceAdjustForm
from wallet.models import (
    Account,
    Posting,
    Transfer,
)
from wallet.services import (
    audit_refusal_record,
    wallet_adjust,
)
from wallet.services.thresholds import balance_adjustment_threshold


class PostingAmounts:
    """A posting's movement, signed ("+$15.00", or the minus sign), and the balance after it,
    as money."""

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency, signed=True)

    @admin.display(description="balance after", ordering="balance_after")
    def balance_after_display(self, obj):
        return money_display(obj.balance_after, obj.currency)


class PostingInline(PostingAmounts, ReadOnlyInline):
    model = Posting
    fields = ["id", "transfer", "amount_display", "balance_after_display"]
    readonly_fields = fields
    ordering = ["-id"]
    show_change_link = True
    show_original = False  # a posting's own text is in minor units; its columns say it
    max_num = 0

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("transfer")


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "user", "currency", "balance_display", "created_at"]
    list_filter = ["kind", "currency"]
    search_fields = ["user__email"]
    list_select_related = ["user"]
    readonly_fields = ["kind", "user", "currency", "balance_display", "created_at", "ledger"]
    fields = readonly_fields
    change_form_template = "admin/wallet/account/change_form.html"

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, obj):
        return money_display(obj.balance, obj.currency)

    @admin.display(description="ledger")
    def ledger(self, obj):
        """A link, not an inline: a shop account has millions of postings; the list pages."""
        url = reverse("admin:wallet_posting_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">Every posting of this account, newest first</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:account_id>/adjust/",
                self.admin_site.admin_view(self.adjust_view),
                name="wallet_account_adjust",
            ),
            *super().get_urls(),
        ]

    def adjust_view(self, request, account_id):
        """Adjust a customer balance with a reason, in two steps: the form, then a page that
        states the movement in money ("Credit $25.00 to …?") with Confirm and Back; only the
        confirmed POST posts the adjustment transfer (or, above the threshold, asks a second
        staff member to approve it). The idempotency key rides along both steps."""
        if not request.user.has_perm("wallet.adjust_balance"):
            if request.method == "POST":
                audit_refusal_record(
                    actor=request.user,
                    target=f"account #{account_id}",
                    detail="balance adjustment: no permission to adjust balances",
                )
            raise PermissionDenied
        account = get_object_or_404(
            Account.objects.select_related("user"), pk=account_id, kind=Account.Kind.CUSTOMER
        )
        if request.method == "POST":
            form = BalanceAdjustForm(request.POST, currency=account.currency)
        else:
            form = BalanceAdjustForm(
                initial={"idempotency_key": uuid.uuid4().hex}, currency=account.currency
            )
        stage = confirmation_stage(request, form)
        if stage == "post":
            done = self._adjust_post(request, account, form)
            if done is not None:
                return done
        confirming = stage == "confirm"
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust the balance of {account.user.email}",
            "account": account,
            "balance": money_display(account.balance, account.currency),
            "form": form,
            "adminform": admin_form(form),
            "confirming": confirming,
            "own_account": account.user_id == request.user.pk,
            "approval_max": approval_threshold_display(
                balance_adjustment_threshold, currency=account.currency
            ),
            "opts": self.model._meta,
        }
        if confirming:
            amount = form.signed_amount()
            context |= {
                "title": "Confirm the balance adjustment",
                "movement": "Credit" if amount > 0 else "Debit",
                "amount": money_display(abs(amount), account.currency),
                "balance_after": money_display(account.balance + amount, account.currency),
            }
        return TemplateResponse(request, "admin/wallet/account/adjust.html", context)

    def _adjust_post(self, request, account, form):
        """The confirmed adjustment through `wallet_adjust`: a redirect with the outcome in
        money, or None with the refusal on the form."""
        data = form.cleaned_data
        amount = form.signed_amount()
        # The shopper-facing description, when the form asks for one.
        extra = {"description": data["description"]} if "description" in data else {}
        try:
            result = wallet_adjust(
                account_id=account.pk,
                amount=amount,
                reason=data["reason"],
                idempotency_key=f"admin-adjust:{data['idempotency_key']}",
                by=request.user,
                **extra,
            )
        except WalletError as error:
            form.add_error(None, f"Refused: {error}")
            return None
        movement = _movement(amount, account)
        earlier = " (already asked for earlier)" if result.replayed else ""
        if result.pending:
            messages.warning(
                request,
                f"{movement} waits for approval by another staff member{earlier}: it is above"
                " what one person may adjust alone. Nothing has moved yet.",
            )
            return HttpResponseRedirect(
                reverse("admin:wallet_balanceadjustment_change", args=[result.adjustment.pk])
            )
        if result.applied is None:  # a replay of a request since rejected
            messages.error(request, f"Refused: the adjustment is {result.adjustment.status}.")
        else:
            balance = money_display(result.balance_after(account.pk), account.currency)
            messages.success(
                request,
                f"{movement}: posted"
                + (" (already posted earlier)" if result.replayed else "")
                + f". The balance is now {balance}.",
            )
        return HttpResponseRedirect(reverse("admin:wallet_account_change", args=[account.pk]))


def _movement(amount: int, account) -> str:
    """ "Credit of $25.00 to demo@example.com's USD balance", for the messages."""
    verb, word = ("Credit", "to") if amount > 0 else ("Debit", "from")
    money = money_display(abs(amount), account.currency)
    return f"{verb} of {money} {word} {account.user.email}'s {account.currency} balance"


class TransferPostingInline(PostingInline):
    fields = ["id", "account", "amount_display", "balance_after_display"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("account__user")


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "description", "created_at", "created_by"]
    list_filter = ["kind", "created_at"]
    search_fields = ["description", "idempotency_key"]
    list_select_related = ["created_by"]
    inlines = [TransferPostingInline]
    date_hierarchy = "created_at"


@admin.register(Posting)
class PostingAdmin(PostingAmounts, ReadOnlyAdmin):
    # The amount opens the posting; no id column, so the transfer's text fits at 1280 px.
    list_display = ["amount_display", "balance_after_display", "account", "transfer"]
    list_display_links = ["amount_display"]
    readonly_fields = ["transfer", "account", "amount_display", "balance_after_display"]
    fields = readonly_fields
    list_filter = ["currency", "account__kind"]
    search_fields = ["account__user__email"]
    list_select_related = ["transfer", "account__user"]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        posting = object_or_404(Posting.objects.all(), object_id)
        # The heading in money; the stored text of a posting is in minor units.
        heading = f"Posting #{posting.pk}: {self.amount_display(posting)}"
        extra_context = {**(extra_context or {}), "subtitle": heading}
        return super().change_view(request, object_id, form_url, extra_context)

    def lookup_allowed(self, lookup, value, request=None):
        # The account page links here with ?account__id__exact=<id>.
        return lookup == "account__id__exact" or super().lookup_allowed(lookup, value, request)
