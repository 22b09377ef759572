"""Promotions in the staff admin: the list, a promotion's page (its terms, amounts, usage and
the approval decision), creating and changing through the staff services (never a raw save),
the preview, the stacking matrix and the report."""

import datetime

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Exists, Q
from django.http import HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from catalog.models import Region
from promotions.admin.forms import PromotionForm
from promotions.admin.pages import PromotionPagesMixin
from promotions.admin.reads import changes_since_approval_by, promotion_changes_since_approval
from promotions.approval import (
    promotion_approval_reasons,
    promotion_approval_threshold,
    promotion_currencies,
    promotion_terms_of,
    promotion_value,
    promotions_alone_totals,
)
from promotions.models import Promotion, PromotionAmount
from promotions.services import (
    promotion_approve,
    promotion_change,
    promotion_create,
    promotion_disable,
    promotion_reject,
)
from promotions.services.staff import promotion_requested_by, promotion_requesters
from wallet.admin.base import (
    WaitingForMeFilter,
    admin_form,
    money_display,
    object_or_404,
    post_action,
)
from wallet.exceptions import WalletError
from wallet.forms import ReasonForm

APPROVE = "promotions.approve_promotion"
Status = Promotion.Status


def _money_or_unbounded(value, currency):
    return "no bound" if value is None else money_display(value, currency)


class PromotionAmountInline(admin.TabularInline):
    """The amounts per currency, read-only here (they change through the edit page)."""

    model = PromotionAmount
    extra = 0
    can_delete = False
    fields = ["currency", "amount_off_display", "minimum_display", "cap_display", "budget_left"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="amount off / credit")
    def amount_off_display(self, obj):
        return money_display(obj.amount_off, obj.currency)

    @admin.display(description="minimum subtotal")
    def minimum_display(self, obj):
        return money_display(obj.minimum_subtotal, obj.currency)

    @admin.display(description="cap per use")
    def cap_display(self, obj):
        return money_display(obj.cap, obj.currency)

    @admin.display(description="budget left")
    def budget_left(self, obj):
        if obj.budget is None:
            return "no budget"
        left = money_display(obj.budget - obj.budget_used, obj.currency)
        return f"{left} of {money_display(obj.budget, obj.currency)}"


class RegionFilter(admin.SimpleListFilter):
    """Promotions offered in a region: listing it, or listing none (offered everywhere)."""

    title = "region"
    parameter_name = "region"

    def lookups(self, request, model_admin):
        return [(r.code, r.name) for r in Region.objects.all()]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(Q(regions=self.value()) | Q(regions__isnull=True)).distinct()


@admin.register(Promotion)
class PromotionAdmin(PromotionPagesMixin, admin.ModelAdmin):
    list_display = [
        "slug",
        "code_display",
        "kind",
        "status",
        "uses_display",
        "budget_left_display",
        "codes",
    ]
    list_display_links = ["slug", "code_display"]
    list_filter = [WaitingForMeFilter, "kind", "status", "codes", RegionFilter]
    search_fields = ["slug", "name", "code"]
    list_select_related = ["created_by"]
    readonly_fields = [
        "slug",
        "name",
        "description",
        "kind",
        "target",
        "codes",
        "code",
        "status",
        "percent",
        "buy_quantity",
        "get_quantity",
        "credit_days",
        "categories",
        "products",
        "regions",
        "starts_on",
        "ends_on",
        "first_order_only",
        "per_shopper_limit",
        "total_limit",
        "uses_count",
        "exclusive",
        "not_combinable_with",
        "created_by",
        "created_at",
        "approved_by",
        "approved_at",
        "updated_at",
    ]
    fields = readonly_fields
    inlines = [PromotionAmountInline]
    change_form_template = "admin/promotions/promotion/change_form.html"
    change_list_template = "admin/promotions/promotion/change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("amounts")

    @admin.display(description="code", ordering="code")
    def code_display(self, obj):
        return obj.code or ("unique codes" if obj.codes == Promotion.Codes.UNIQUE else "automatic")

    @admin.display(description="uses / limit", ordering="uses_count")
    def uses_display(self, obj):
        return f"{obj.uses_count} / {obj.total_limit if obj.total_limit is not None else '∞'}"

    @admin.display(description="budget left")
    def budget_left_display(self, obj):
        parts = [
            money_display(a.budget - a.budget_used, a.currency)
            for a in obj.amounts.all()
            if a.budget is not None
        ]
        return ", ".join(parts) or "—"

    # --- who may do what (the services check again)

    def has_add_permission(self, request, obj=None):
        return request.user.has_perm("promotions.add_promotion")

    def has_change_permission(self, request, obj=None):
        # The admin's own form never saves a promotion: changes go through the edit page.
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_view_permission(self, request, obj=None):
        return super().has_view_permission(request, obj) or request.user.has_perm(APPROVE)

    def waiting_for(self, request, queryset):
        """Waiting promotions the user may approve: not created, last changed, nor changed
        since the last approval by them (`promotion_requesters`, as one query)."""
        if not request.user.has_perm(APPROVE):
            return queryset.none()
        return (
            queryset.filter(status=Status.PENDING_APPROVAL)
            .exclude(created_by=request.user)
            .exclude(changed_by=request.user)
            .exclude(Exists(changes_since_approval_by(request.user)))
        )

    # --- pages

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("preview/", view(self.preview_view), name="promotions_preview"),
            path("matrix/", view(self.matrix_view), name="promotions_matrix"),
            path("<int:promotion_id>/edit/", view(self.edit_view), name="promotions_edit"),
            path(
                "<int:promotion_id>/preview/",
                view(self.preview_view),
                name="promotions_preview_one",
            ),
            path("<int:promotion_id>/report/", view(self.report_view), name="promotions_report"),
            path("<int:promotion_id>/approve/", view(self.approve_view), name="promotions_approve"),
            path("<int:promotion_id>/reject/", view(self.reject_view), name="promotions_reject"),
            path("<int:promotion_id>/disable/", view(self.disable_view), name="promotions_disable"),
            *super().get_urls(),
        ]

    def _context(self, request, **extra):
        return {**self.admin_site.each_context(request), "opts": self.model._meta, **extra}

    def _value_rows(self, terms):
        rows = []
        for currency in sorted(promotion_currencies(terms)):
            threshold = promotion_approval_threshold(currency=currency)
            rows.append(
                {
                    "currency": currency,
                    "value": _money_or_unbounded(
                        promotion_value(terms, currency=currency), currency
                    ),
                    "threshold": "not set"
                    if threshold is None
                    else money_display(threshold, currency),
                }
            )
        return rows

    def change_view(self, request, object_id, form_url="", extra_context=None):
        promotion = object_or_404(Promotion.objects.all(), object_id)
        user = request.user
        terms = promotion_terms_of(promotion)
        waiting = promotion.status == Status.PENDING_APPROVAL
        own = waiting and user.pk in promotion_requesters(promotion=promotion)
        extra_context = {
            **(extra_context or {}),
            "promotion": promotion,
            "value_rows": self._value_rows(terms),
            "approval_reasons": promotion_approval_reasons(
                terms, alone=self._alone(promotion) if waiting else None
            ),
            # What the approver approves: each change since the last approval, old → new.
            "changes": promotion_changes_since_approval(promotion=promotion),
            "version": promotion.updated_at.isoformat(),
            "can_approve": waiting and user.has_perm(APPROVE) and not own,
            "is_own_waiting": own,
            "can_reject": waiting
            and (user.has_perm(APPROVE) or user.pk == promotion_requested_by(promotion=promotion)),
            # A waiting promotion is rejected, not disabled: one reason form per page.
            "can_disable": promotion.status == Status.ACTIVE
            and user.has_perm("promotions.change_promotion"),
            "can_edit": user.has_perm("promotions.change_promotion"),
            "reason_form": ReasonForm(),
            "codes_issued": promotion.code_rows.aggregate(
                issued=Count("pk"), used=Count("pk", filter=Q(redeemed_at__isnull=False))
            )
            if promotion.codes == Promotion.Codes.UNIQUE
            else None,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    @staticmethod
    def _alone(promotion):
        """What its requester made live alone in the last 24 hours: a promotion may wait for
        that reason alone, and the page says so rather than "within every threshold"."""
        requester = promotion.changed_by or promotion.created_by
        return promotions_alone_totals(person=requester, exclude_id=promotion.pk)

    def _form_page(self, request, form, *, title, promotion=None):
        currencies = sorted(set(Region.objects.values_list("currency", flat=True)))
        thresholds = ", ".join(
            _money_or_unbounded(promotion_approval_threshold(currency=c), c) for c in currencies
        )
        context = self._context(
            request,
            title=title,
            form=form,
            adminform=admin_form(form, name="The promotion"),
            promotion=promotion,
            thresholds=thresholds,
        )
        return TemplateResponse(request, "admin/promotions/promotion/edit.html", context)

    def add_view(self, request, form_url="", extra_context=None):
        """Create a promotion through `promotion_create` (waits for approval above the
        threshold)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = PromotionForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                promotion = promotion_create(terms=form.terms, created_by=request.user)
            except WalletError as error:
                form.add_error(None, f"Refused: {error}")
            else:
                self._saved_message(request, promotion)
                return HttpResponseRedirect(
                    reverse("admin:promotions_promotion_change", args=[promotion.pk])
                )
        return self._form_page(request, form, title="Create a promotion")

    def edit_view(self, request, promotion_id):
        """Change a promotion through `promotion_change`."""
        if not request.user.has_perm("promotions.change_promotion"):
            raise PermissionDenied
        promotion = object_or_404(Promotion.objects.all(), promotion_id)
        terms = promotion_terms_of(promotion)
        form = PromotionForm(
            request.POST or None,
            promotion=promotion,
            initial=PromotionForm.initial_of(promotion, terms),
        )
        if request.method == "POST" and form.is_valid():
            try:
                promotion = promotion_change(
                    promotion_id=promotion.pk,
                    terms=form.terms,
                    changed_by=request.user,
                    seen_updated_at=form.cleaned_data["version"],
                )
            except WalletError as error:
                form.add_error(None, f"Refused: {error}")
            else:
                self._saved_message(request, promotion)
                return HttpResponseRedirect(
                    reverse("admin:promotions_promotion_change", args=[promotion.pk])
                )
        return self._form_page(request, form, title=f"Change {promotion}", promotion=promotion)

    @staticmethod
    def _saved_message(request, promotion):
        if promotion.status == Status.PENDING_APPROVAL:
            messages.warning(
                request,
                f"Promotion {promotion.slug!r} is saved and waits for approval by another "
                "staff member: shoppers cannot use it yet.",
            )
        else:
            messages.success(
                request,
                f"Promotion {promotion.slug!r} is saved "
                f"({promotion.get_status_display().lower()}).",
            )

    def approve_view(self, request, promotion_id):
        def approve():
            seen = request.POST.get("version") or ""
            try:
                seen_at = datetime.datetime.fromisoformat(seen) if seen else None
            except ValueError:
                raise WalletError("reload the page and look again") from None
            promotion = promotion_approve(
                promotion_id=promotion_id, approved_by=request.user, seen_updated_at=seen_at
            )
            return f"Promotion {promotion.slug!r} approved: shoppers can use it now."

        return post_action(self, request, promotion_id, approve)

    def _reason(self, request, what):
        form = ReasonForm(request.POST)
        if not form.is_valid():
            raise WalletError(f"say why the promotion is {what}")
        return form.cleaned_data["reason"]

    def reject_view(self, request, promotion_id):
        def reject():
            promotion_reject(
                promotion_id=promotion_id,
                rejected_by=request.user,
                reason=self._reason(request, "rejected"),
            )
            return "Promotion rejected: shoppers cannot use it."

        return post_action(self, request, promotion_id, reject)

    def disable_view(self, request, promotion_id):
        def disable():
            promotion_disable(
                promotion_id=promotion_id,
                disabled_by=request.user,
                reason=self._reason(request, "disabled"),
            )
            return "Promotion disabled: its codes are refused from now on."

        return post_action(self, request, promotion_id, disable)
