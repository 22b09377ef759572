"""Accounts, transfers and postings: read-only; a balance changes only through an adjustment
(a shopper's money balance, available points or coins: the same form, the same rules)."""

import uuid

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from wallet.admin import outstanding
from wallet.admin.base import (
    ReadOnlyAdmin,
    ReadOnlyInline,
    admin_form,
    approval_threshold_display,
    confirmation_stage,
    ledger_amount_display,
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
from wallet.services.adjustments import ADJUSTABLE_KINDS
from wallet.services.thresholds import balance_adjustment_threshold
from wallet.shop_balances import accounts_with_balance
from wallet.units import COINS, POINTS

# The shopper's unit accounts staff adjust by user (the account may not exist yet): the URL's
# word → (account kind, unit).
UNIT_ACCOUNTS = {
    "points": (Account.Kind.CUSTOMER_POINTS, POINTS),
    "coins": (Account.Kind.CUSTOMER_COINS, COINS),
}


class PostingAmounts:
    """A posting's movement, signed ("+$15.00", or the minus sign), and the balance after it,
    as money (points and coins in words: "+1,250 points")."""

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return ledger_amount_display(obj.amount, obj.currency, signed=True)

    @admin.display(description="balance after", ordering="balance_after")
    def balance_after_display(self, obj):
        # A shop account's postings carry no running balance (docs/ledger.md "Shop accounts").
        if obj.balance_after is None:
            return "—"
        return ledger_amount_display(obj.balance_after, obj.currency)


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

    def get_queryset(self, request):
        # A shop account's balance is the sum of its postings, not a cached figure.
        return accounts_with_balance(super().get_queryset(request))

    @admin.display(description="balance", ordering="ledger_balance")
    def balance_display(self, obj):
        return ledger_amount_display(obj.ledger_balance, obj.currency)

    @admin.display(description="ledger")
    def ledger(self, obj):
        """A link, not an inline: a shop account has millions of postings; the list pages."""
        url = reverse("admin:wallet_posting_changelist") + f"?account__id__exact={obj.pk}"
        return format_html('<a href="{}">Every posting of this account, newest first</a>', url)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:account_id>/adjust/", view(self.adjust_view), name="wallet_account_adjust"),
            path(
                "user/<int:user_id>/<str:unit>/adjust/",
                view(self.unit_adjust_view),
                name="wallet_account_unit_adjust",
            ),
            path(
                "points-and-coins/",
                view(self.units_outstanding_view),
                name="wallet_account_units_outstanding",
            ),
            *super().get_urls(),
        ]

    def units_outstanding_view(self, request):
        """The "Points and coins outstanding" report (wallet/admin/outstanding.py)."""
        return outstanding.units_outstanding_view(self, request)

    def _adjust_permission(self, request, target: str) -> None:
        if not request.user.has_perm("wallet.adjust_balance"):
            if request.method == "POST":
                audit_refusal_record(
                    actor=request.user,
                    target=target,
                    detail="balance adjustment: no permission to adjust balances",
                )
            raise PermissionDenied

    def adjust_view(self, request, account_id):
        """Adjust a customer balance (or a shopper's available points or coins) with a reason."""
        self._adjust_permission(request, f"account #{account_id}")
        account = get_object_or_404(
            Account.objects.select_related("user"), pk=account_id, kind__in=ADJUSTABLE_KINDS
        )
        return self._adjust_page(request, account)

    def unit_adjust_view(self, request, user_id, unit):
        """Adjust a shopper's points or coins from their money account's page, whether or not
        they have a points or coins account yet (it is made only when the adjustment is
        confirmed: a look at the form writes nothing)."""
        self._adjust_permission(request, f"user #{user_id} {unit}")
        if unit not in UNIT_ACCOUNTS:
            raise Http404("Only points and coins are adjusted by shopper.")
        kind, currency = UNIT_ACCOUNTS[unit]
        shopper = get_object_or_404(get_user_model(), pk=user_id)
        account = Account.objects.filter(user=shopper, kind=kind).select_related("user").first()
        if account is None:
            account = Account(user=shopper, kind=kind, currency=currency, balance=0)
        return self._adjust_page(request, account)

    def _adjust_page(self, request, account):
        """Two steps: the form, then a page that states the movement ("Credit $25.00 to …?",
        "Credit 1,250 points to …?") with Confirm and Back; only the confirmed POST posts the
        adjustment transfer (or, above the threshold, asks a second staff member to approve
        it). The idempotency key rides along both steps."""
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
        what = _what(account)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Adjust the {what} of {account.user.email}",
            "account": account,
            "what": what,
            "is_units": account.kind != Account.Kind.CUSTOMER,
            "balance": ledger_amount_display(account.balance, account.currency),
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
                "title": "Confirm the adjustment",
                "movement": "Credit" if amount > 0 else "Debit",
                "amount": ledger_amount_display(abs(amount), account.currency),
                "balance_after": ledger_amount_display(account.balance + amount, account.currency),
            }
        return TemplateResponse(request, "admin/wallet/account/adjust.html", context)

    def _adjust_post(self, request, account, form):
        """The confirmed adjustment through `wallet_adjust`: a redirect with the outcome in
        money (or points, coins), or None with the refusal on the form."""
        data = form.cleaned_data
        amount = form.signed_amount()
        # The shopper-facing description, when the form asks for one.
        extra = {"description": data["description"]} if "description" in data else {}
        # A shopper's first points or coins: the service makes the account once it has checked.
        which = (
            {"account_id": account.pk}
            if account.pk is not None
            else {"user_id": account.user_id, "kind": account.kind}
        )
        try:
            result = wallet_adjust(
                **which,
                amount=amount,
                reason=data["reason"],
                idempotency_key=f"admin-adjust:{data['idempotency_key']}",
                by=request.user,
                **extra,
            )
        except WalletError as error:
            form.add_error(None, f"Refused: {error}")
            return None
        account = result.adjustment.account
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
            balance = ledger_amount_display(result.balance_after(account.pk), account.currency)
            messages.success(
                request,
                f"{movement}: posted"
                + (" (already posted earlier)" if result.replayed else "")
                + f". The balance is now {balance}.",
            )
        return HttpResponseRedirect(reverse("admin:wallet_account_change", args=[account.pk]))


def _what(account) -> str:
    """What an adjustment moves, as staff read it: "USD balance", "points", "coins"."""
    if account.kind == Account.Kind.CUSTOMER_POINTS:
        return "points"
    if account.kind == Account.Kind.CUSTOMER_COINS:
        return "coins"
    return f"{account.currency} balance"


def _movement(amount: int, account) -> str:
    """ "Credit of $25.00 to demo@example.com's USD balance" (or "… 1,250 points to
    demo@example.com's points"), for the messages."""
    verb, word = ("Credit", "to") if amount > 0 else ("Debit", "from")
    shown = ledger_amount_display(abs(amount), account.currency)
    return f"{verb} of {shown} {word} {account.user.email}'s {_what(account)}"


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
