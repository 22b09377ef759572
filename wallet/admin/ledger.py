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
    approval_threshold_display,
    money_display,
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


class PostingInline(ReadOnlyInline):
    model = Posting
    fields = ["id", "transfer", "amount", "balance_after", "currency"]
    readonly_fields = fields
    ordering = ["-id"]
    show_change_link = True
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
        """Adjust a customer balance with a reason: posts an adjustment transfer, or above the
        threshold asks a second staff member to approve it."""
        if not request.user.has_perm("wallet.adjust_balance"):
            if request.method == "POST":
                audit_refusal_record(
                    actor=request.user,
                    target=f"account #{account_id}",
                    detail="balance adjustment: no permission to adjust balances",
                )
            raise PermissionDenied
        account = get_object_or_404(Account, pk=account_id, kind=Account.Kind.CUSTOMER)
        if request.method == "POST":
            form = BalanceAdjustForm(request.POST, currency=account.currency)
            if form.is_valid():
                try:
                    result = wallet_adjust(
                        account_id=account.pk,
                        amount=form.signed_amount(),
                        reason=form.cleaned_data["reason"],
                        idempotency_key=f"admin-adjust:{form.cleaned_data['idempotency_key']}",
                        by=request.user,
                    )
                except WalletError as error:
                    form.add_error(None, f"Refused: {error}")
                else:
                    earlier = " (already asked for earlier)" if result.replayed else ""
                    if result.pending:
                        messages.warning(
                            request,
                            f"The adjustment waits for approval by another staff member{earlier}:"
                            " it is above what one person may adjust alone.",
                        )
                        return HttpResponseRedirect(
                            reverse(
                                "admin:wallet_balanceadjustment_change",
                                args=[result.adjustment.pk],
                            )
                        )
                    if result.applied is None:  # a replay of a request since rejected
                        messages.error(
                            request, f"Refused: the adjustment is {result.adjustment.status}."
                        )
                    else:
                        balance = result.balance_after(account.pk)
                        messages.success(
                            request,
                            "Adjustment posted"
                            + (" (already posted earlier)" if result.replayed else "")
                            + f". The balance is now {money_display(balance, account.currency)}.",
                        )
                    return HttpResponseRedirect(
                        reverse("admin:wallet_account_change", args=[account.pk])
                    )
        else:
            form = BalanceAdjustForm(
                initial={"idempotency_key": uuid.uuid4().hex}, currency=account.currency
            )
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust the balance of {account}",
            "account": account,
            "balance": money_display(account.balance, account.currency),
            "form": form,
            "own_account": account.user_id == request.user.pk,
            "approval_max": approval_threshold_display(
                balance_adjustment_threshold, currency=account.currency
            ),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/wallet/account/adjust.html", context)


class TransferPostingInline(PostingInline):
    fields = ["id", "account", "amount", "balance_after", "currency"]
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
class PostingAdmin(ReadOnlyAdmin):
    list_display = ["id", "transfer", "account", "amount", "balance_after", "currency"]
    list_filter = ["currency", "account__kind"]
    search_fields = ["account__user__email"]
    list_select_related = ["transfer", "account__user"]

    def lookup_allowed(self, lookup, value, request=None):
        # The account page links here with ?account__id__exact=<id>.
        return lookup == "account__id__exact" or super().lookup_allowed(lookup, value, request)
