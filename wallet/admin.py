"""The staff side of the wallet. Read-only over the ledger; every change goes through a
service (which checks the permission again and writes the audit entry)."""

import re
import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import SEARCH_VAR
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from catalog.money import format_money
from wallet.codes import CodeTypo, code_hash, code_normalize
from wallet.exceptions import WalletError
from wallet.forms import BalanceAdjustForm, GiftCardBatchRequestForm, ReasonForm
from wallet.models import (
    Account,
    ActivityReport,
    AuditEntry,
    GiftCard,
    GiftCardBatch,
    Posting,
    Transfer,
)
from wallet.services import (
    activity_report_status_set,
    giftcard_batch_approve,
    giftcard_batch_codes_download,
    giftcard_batch_reject,
    giftcard_batch_request,
    giftcard_status_set,
    wallet_adjust,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Staff may look, never edit: the wallet services are the only writers."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _money(minor, currency):
    return format_money(minor, currency=currency)


def _post_action(admin_site_view, request, obj_id, action):
    """Run a staff service from a POST and come back to the object with its outcome."""
    if request.method != "POST":
        raise PermissionDenied
    try:
        outcome = action()
    except WalletError as error:
        messages.error(request, f"Refused: {error}")
    else:
        messages.success(request, outcome)
    return HttpResponseRedirect(reverse(admin_site_view, args=[obj_id]))


# -- Ledger -----------------------------------------------------------------------------------


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
        return _money(obj.balance, obj.currency)

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
        """Adjust a customer balance with a reason: posts an adjustment transfer."""
        if not request.user.has_perm("wallet.adjust_balance"):
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
                    balance = result.balance_after(account.pk)
                    messages.success(
                        request,
                        "Adjustment posted"
                        + (" (already posted earlier)" if result.replayed else "")
                        + f". The balance is now {_money(balance, account.currency)}.",
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
            "balance": _money(account.balance, account.currency),
            "form": form,
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


# -- Gift cards ------------------------------------------------------------------------------


@admin.register(GiftCardBatch)
class GiftCardBatchAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "name",
        "region",
        "card_count",
        "amount_display",
        "total_display",
        "status",
        "created_by",
        "approved_by",
        "created_at",
    ]
    list_filter = ["status", "region"]
    search_fields = ["name", "note"]
    list_select_related = ["region", "created_by", "approved_by"]
    readonly_fields = [
        "name",
        "region",
        "card_count",
        "amount_display",
        "total_display",
        "expires_on",
        "note",
        "status",
        "failure",
        "created_by",
        "created_at",
        "approved_by",
        "approved_at",
        "issued_at",
        "codes_downloaded_at",
    ]
    fields = readonly_fields
    change_form_template = "admin/wallet/giftcardbatch/change_form.html"

    @admin.display(description="each card", ordering="amount")
    def amount_display(self, obj):
        return _money(obj.amount, obj.currency)

    @admin.display(description="total value")
    def total_display(self, obj):
        return _money(obj.total, obj.currency)

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("wallet.issue_giftcardbatch")

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or request.user.has_perm(
            "wallet.approve_giftcardbatch"
        )

    def add_view(self, request, form_url="", extra_context=None):
        """Request a batch: small ones are approved at once, large ones wait for another."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = GiftCardBatchRequestForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                batch = giftcard_batch_request(
                    name=data["name"],
                    region=data["region"],
                    count=data["count"],
                    amount=data["amount_minor"],
                    expires_on=data["expires_on"],
                    note=data["note"],
                    created_by=request.user,
                )
            except WalletError as error:
                form.add_error(None, f"Refused: {error}")
            else:
                if batch.status == GiftCardBatch.Status.PENDING_APPROVAL:
                    messages.warning(
                        request,
                        f"Batch {batch.name!r} is waiting for approval by another staff member.",
                    )
                else:
                    messages.success(
                        request, f"Batch {batch.name!r} is approved: download its codes below."
                    )
                return HttpResponseRedirect(
                    reverse("admin:wallet_giftcardbatch_change", args=[batch.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "title": "Request a gift card batch",
            "form": form,
            "approval_max_cards": settings.GIFTCARD_APPROVAL_MAX_CARDS,
            "approval_max_total": settings.GIFTCARD_APPROVAL_MAX_TOTAL,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/wallet/giftcardbatch/request.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = get_object_or_404(GiftCardBatch, pk=object_id)
        user = request.user
        waiting = batch.status == GiftCardBatch.Status.PENDING_APPROVAL
        extra_context = {
            **(extra_context or {}),
            "batch": batch,
            "can_approve": waiting
            and user.has_perm("wallet.approve_giftcardbatch")
            and batch.created_by_id != user.pk,
            "is_own_waiting_batch": waiting and batch.created_by_id == user.pk,
            "can_reject": batch.status
            in (GiftCardBatch.Status.PENDING_APPROVAL, GiftCardBatch.Status.APPROVED)
            and (batch.created_by_id == user.pk or user.has_perm("wallet.approve_giftcardbatch")),
            "can_download": batch.status == GiftCardBatch.Status.APPROVED
            and batch.created_by_id == user.pk
            and batch.codes_downloaded_at is None
            and user.has_perm("wallet.issue_giftcardbatch"),
            "reason_form": ReasonForm(),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:batch_id>/approve/", view(self.approve_view), name="wallet_batch_approve"),
            path("<int:batch_id>/reject/", view(self.reject_view), name="wallet_batch_reject"),
            path("<int:batch_id>/codes/", view(self.download_view), name="wallet_batch_codes"),
            *super().get_urls(),
        ]

    def approve_view(self, request, batch_id):
        def approve():
            batch = giftcard_batch_approve(batch_id=batch_id, approved_by=request.user)
            return f"Batch {batch.name!r} approved. Its creator can now download the codes."

        return _post_action("admin:wallet_giftcardbatch_change", request, batch_id, approve)

    def reject_view(self, request, batch_id):
        def reject():
            form = ReasonForm(request.POST)
            if not form.is_valid():
                raise WalletError("say why the batch is rejected")
            giftcard_batch_reject(
                batch_id=batch_id, rejected_by=request.user, reason=form.cleaned_data["reason"]
            )
            return "Batch rejected."

        return _post_action("admin:wallet_giftcardbatch_change", request, batch_id, reject)

    def download_view(self, request, batch_id):
        """Issue the batch and stream its codes as CSV: once, to its creator."""
        if request.method != "POST":
            raise PermissionDenied
        try:
            stream = giftcard_batch_codes_download(batch_id=batch_id, user=request.user)
        except WalletError as error:
            messages.error(request, f"Refused: {error}")
            return HttpResponseRedirect(
                reverse("admin:wallet_giftcardbatch_change", args=[batch_id])
            )
        response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="giftcards-batch-{batch_id}.csv"'
        response["Cache-Control"] = "no-store"
        return response


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
        return _money(obj.amount, obj.currency)

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

        return _post_action("admin:wallet_giftcard_change", request, card_id, change)


# -- Reports and audit -----------------------------------------------------------------------


@admin.register(ActivityReport)
class ActivityReportAdmin(admin.ModelAdmin):
    """Shoppers' "Report a problem"; staff move the status along."""

    list_display = ["id", "user", "posting_summary", "status", "created_at"]
    list_filter = ["status", "created_at"]
    list_editable = ["status"]
    search_fields = ["user__email", "message"]
    list_select_related = ["user", "posting__transfer"]
    readonly_fields = ["user", "posting", "message", "created_at"]
    fields = ["user", "posting", "message", "status", "created_at"]

    @admin.display(description="activity")
    def posting_summary(self, obj):
        return format_html(
            "{} ({})",
            obj.posting.transfer.description,
            _money(obj.posting.amount, obj.posting.currency),
        )

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        activity_report_status_set(report_id=obj.pk, status=obj.status, by=request.user)


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor", "action", "target", "detail"]
    list_filter = ["action", "created_at"]
    search_fields = ["actor__email", "target", "detail"]
    list_select_related = ["actor"]
    date_hierarchy = "created_at"
