"""Gift card batches: request, approve or reject, issue and download once."""

import uuid

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseRedirect, StreamingHttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse

from wallet.admin.base import (
    ReadOnlyAdmin,
    WaitingForMeFilter,
    admin_form,
    approval_thresholds_display,
    money_display,
    object_or_404,
    post_action,
)
from wallet.exceptions import NotFound, WalletError
from wallet.forms import GiftCardBatchRequestForm, ReasonForm
from wallet.models import (
    GiftCardBatch,
)
from wallet.services import (
    giftcard_batch_approve,
    giftcard_batch_codes_download,
    giftcard_batch_reject,
    giftcard_batch_request,
)
from wallet.services.thresholds import giftcard_batch_threshold


@admin.register(GiftCardBatch)
class GiftCardBatchAdmin(ReadOnlyAdmin):
    # What fits 1280 px beside the filters: the approver and the dates are on the batch's page.
    list_display = [
        "id",
        "name",
        "region",
        "card_count_display",
        "amount_display",
        "total_display",
        "status",
        "created_by",
    ]
    list_display_links = ["id", "name"]
    list_filter = [WaitingForMeFilter, "status", "region"]
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

    @admin.display(description="cards", ordering="card_count")
    def card_count_display(self, obj):
        return obj.card_count

    @admin.display(description="each card", ordering="amount")
    def amount_display(self, obj):
        return money_display(obj.amount, obj.currency)

    @admin.display(description="total value")
    def total_display(self, obj):
        return money_display(obj.total, obj.currency)

    def waiting_for(self, request, queryset):
        """Batches waiting that the user may approve: not their own; none without the
        permission (the service refuses the same cases)."""
        if not request.user.has_perm("wallet.approve_giftcardbatch"):
            return queryset.none()
        return queryset.filter(status=GiftCardBatch.Status.PENDING_APPROVAL).exclude(
            created_by=request.user
        )

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
        if request.method == "POST":
            form = GiftCardBatchRequestForm(request.POST)
        else:
            # The shop's own region first (settings.DEFAULT_REGION), not the list's first row.
            form = GiftCardBatchRequestForm(
                initial={
                    "idempotency_key": uuid.uuid4().hex,
                    "region": settings.DEFAULT_REGION,
                }
            )
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
                    idempotency_key=f"admin-batch:{data['idempotency_key']}",
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
            "adminform": admin_form(form, name="The batch"),
            "approval_max_cards": settings.GIFTCARD_APPROVAL_MAX_CARDS,
            "approval_max_totals": approval_thresholds_display(giftcard_batch_threshold),
            "admin_max_cards": settings.GIFTCARD_ADMIN_MAX_CARDS,
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/wallet/giftcardbatch/request.html", context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = object_or_404(GiftCardBatch.objects.all(), object_id)
        user = request.user
        waiting = batch.status == GiftCardBatch.Status.PENDING_APPROVAL
        extra_context = {
            **(extra_context or {}),
            "batch": batch,
            "batch_amount": money_display(batch.amount, batch.currency),
            "batch_total": money_display(batch.total, batch.currency),
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

        return post_action(self, request, batch_id, approve)

    def reject_view(self, request, batch_id):
        def reject():
            form = ReasonForm(request.POST)
            if not form.is_valid():
                raise WalletError("say why the batch is rejected")
            giftcard_batch_reject(
                batch_id=batch_id, rejected_by=request.user, reason=form.cleaned_data["reason"]
            )
            return "Batch rejected."

        return post_action(self, request, batch_id, reject)

    def download_view(self, request, batch_id):
        """Issue the batch and stream its codes as CSV: once, to its creator."""
        object_or_404(GiftCardBatch.objects.all(), batch_id)
        if request.method != "POST":
            raise PermissionDenied
        try:
            stream = giftcard_batch_codes_download(batch_id=batch_id, user=request.user)
        except WalletError as error:
            messages.error(request, f"Refused: {error}")
            view = "changelist" if isinstance(error, NotFound) else "change"
            args = [] if isinstance(error, NotFound) else [batch_id]
            return HttpResponseRedirect(reverse(f"admin:wallet_giftcardbatch_{view}", args=args))
        response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="giftcards-batch-{batch_id}.csv"'
        response["Cache-Control"] = "no-store"
        return response
