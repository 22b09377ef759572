"""Balance adjustments (money, points, coins): the requests above the threshold wait here for a
second staff member."""

from django.contrib import admin, messages
from django.urls import path

from wallet.admin.base import (
    ReadOnlyAdmin,
    WaitingForMeFilter,
    ledger_amount_display,
    object_or_404,
    post_action,
)
from wallet.exceptions import WalletError
from wallet.forms import ReasonForm
from wallet.models import BalanceAdjustment
from wallet.services import balance_adjustment_approve, balance_adjustment_reject

APPROVE = "wallet.approve_balanceadjustment"


def _may_approve(user, adjustment: BalanceAdjustment) -> bool:
    """Whether to offer the button; the service decides (and refuses the same cases)."""
    return (
        adjustment.status == BalanceAdjustment.Status.PENDING
        and user.has_perm(APPROVE)
        and adjustment.requested_by_id != user.pk
        and adjustment.account.user_id != user.pk
    )


@admin.register(BalanceAdjustment)
class BalanceAdjustmentAdmin(ReadOnlyAdmin):
    # Seven columns fit 1280 px beside the filters; the reason is on the adjustment's page.
    list_display = [
        "id",
        "account",
        "amount_display",
        "status",
        "requested_by",
        "requested_at",
        "approved_by",
    ]
    list_display_links = ["id", "account"]
    list_filter = [WaitingForMeFilter, "status", "currency", "requested_at"]
    search_fields = ["account__user__email", "requested_by__email", "reason"]
    list_select_related = ["account__user", "requested_by", "approved_by"]
    readonly_fields = [
        "account",
        "amount_display",
        "reason",
        "description",
        "status",
        "requested_by",
        "requested_at",
        "approved_by",
        "rejected_by",
        "decided_at",
        "decision_note",
        "transfer",
    ]
    fields = readonly_fields
    actions = ["approve_selected"]
    change_form_template = "admin/wallet/balanceadjustment/change_form.html"

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, obj):
        return ledger_amount_display(obj.amount, obj.currency, signed=True)

    def waiting_for(self, request, queryset):
        """Pending adjustments the user may approve: someone else's, on someone else's balance
        (the service refuses the same cases); none without the permission."""
        if not request.user.has_perm(APPROVE):
            return queryset.none()
        return (
            queryset.filter(status=BalanceAdjustment.Status.PENDING)
            .exclude(requested_by=request.user)
            .exclude(account__user=request.user)
        )

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or request.user.has_perm(APPROVE)

    def has_approve_permission(self, request):
        return request.user.has_perm(APPROVE)

    @admin.action(description="Approve the selected adjustments", permissions=["approve"])
    def approve_selected(self, request, queryset):
        """Each through the service, one by one: one refusal does not stop the others."""
        for adjustment_id in queryset.values_list("pk", flat=True).order_by("pk"):
            try:
                balance_adjustment_approve(adjustment_id=adjustment_id, approved_by=request.user)
            except WalletError as error:
                messages.error(request, f"Adjustment #{adjustment_id} refused: {error}")
            else:
                messages.success(request, f"Adjustment #{adjustment_id} approved and applied.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        adjustment = object_or_404(BalanceAdjustment.objects.select_related("account"), object_id)
        user = request.user
        extra_context = {
            **(extra_context or {}),
            "adjustment": adjustment,
            "adjustment_amount": ledger_amount_display(
                adjustment.amount, adjustment.currency, signed=True
            ),
            "can_approve": _may_approve(user, adjustment),
            "can_reject": adjustment.status == BalanceAdjustment.Status.PENDING
            and (adjustment.requested_by_id == user.pk or user.has_perm(APPROVE)),
            "is_own_request": adjustment.status == BalanceAdjustment.Status.PENDING
            and adjustment.requested_by_id == user.pk,
            "reason_form": ReasonForm(),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path(
                "<int:adjustment_id>/approve/",
                view(self.approve_view),
                name="wallet_adjustment_approve",
            ),
            path(
                "<int:adjustment_id>/reject/",
                view(self.reject_view),
                name="wallet_adjustment_reject",
            ),
            *super().get_urls(),
        ]

    def approve_view(self, request, adjustment_id):
        def approve():
            result = balance_adjustment_approve(
                adjustment_id=adjustment_id, approved_by=request.user
            )
            balance = ledger_amount_display(
                result.balance_after(result.adjustment.account_id), result.adjustment.currency
            )
            return f"Adjustment approved and applied. The balance is now {balance}."

        return post_action(self, request, adjustment_id, approve)

    def reject_view(self, request, adjustment_id):
        def reject():
            form = ReasonForm(request.POST)
            if not form.is_valid():
                raise WalletError("say why the adjustment is rejected")
            balance_adjustment_reject(
                adjustment_id=adjustment_id,
                rejected_by=request.user,
                reason=form.cleaned_data["reason"],
            )
            return "Adjustment rejected: nothing was moved."

        return post_action(self, request, adjustment_id, reject)
