"""The promotions admin's read-only pages: the preview ("this cart would get …"), the stacking
matrix and the report of one promotion (mixed into `PromotionAdmin`)."""

from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from catalog.models import Region
from promotions.admin.forms import PreviewForm
from promotions.admin.reads import promotion_preview, promotion_report_get, stacking_matrix_get
from promotions.models import Promotion, PromotionRedemption
from wallet.admin.base import admin_form, money_display, object_or_404


class PromotionPagesMixin:
    """Needs `has_view_permission`, `admin_site` and `_context` of the model admin."""

    def preview_view(self, request, promotion_id=None):
        """ "This cart would get …": the engine's answer for a cart staff put together. A POST
        form (with the CSRF token): the codes typed are never in an address, where access logs
        and browser history would keep them. It only reads: nothing is written whatever is
        posted; a GET shows the empty form, whatever its query string says."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        promotion = None
        if promotion_id is not None:
            promotion = object_or_404(Promotion.objects.all(), promotion_id)
        data = request.POST if request.method == "POST" else None
        initial = (
            {"region": request.user.region_id} if getattr(request.user, "region_id", None) else {}
        )
        form = PreviewForm(data, initial=initial)
        preview = None
        if data is not None and form.is_valid():
            preview = promotion_preview(
                region=form.cleaned_data["region"],
                items=form.items,
                codes=form.codes,
                promotion=promotion,
                has_orders=form.cleaned_data["has_orders"],
                today=form.cleaned_data["on_day"],
                shipping_amount=form.shipping_amount,
            )
        context = self._context(
            request,
            title=f"Preview {promotion}" if promotion else "Preview a cart",
            form=form,
            adminform=admin_form(form, name="The cart"),
            promotion=promotion,
            preview=preview,
            **(_preview_rows(preview) if preview else {}),
        )
        return TemplateResponse(request, "admin/promotions/promotion/preview.html", context)

    def matrix_view(self, request):
        """Which active promotions combine with which, in a region's currency."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        regions = list(Region.objects.all())
        chosen = next((r for r in regions if r.code == request.GET.get("region")), None)
        region = chosen or next(
            (r for r in regions if r.code == getattr(request.user, "region_id", None)), regions[0]
        )
        context = self._context(
            request,
            title="Stacking matrix",
            matrix=stacking_matrix_get(region=region),
            region=region,
            regions=regions,
        )
        return TemplateResponse(request, "admin/promotions/promotion/matrix.html", context)

    def report_view(self, request, promotion_id):
        """Uses, discount given, orders and released uses of one promotion, per currency,
        and its latest redemptions."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        promotion = object_or_404(Promotion.objects.all(), promotion_id)
        rows = [
            {
                "row": row,
                "given": money_display(row.given, row.currency),
                "clawed_back": money_display(row.clawed_back, row.currency),
                "budget": money_display(row.budget, row.currency),
                "budget_left": money_display(row.budget_left, row.currency),
            }
            for row in promotion_report_get(promotion=promotion)
        ]
        latest = [
            {"redemption": r, "amount": money_display(r.amount, r.currency)}
            for r in PromotionRedemption.objects.filter(promotion=promotion).select_related("user")[
                :50
            ]
        ]
        context = self._context(
            request,
            title=f"Report: {promotion}",
            promotion=promotion,
            rows=rows,
            latest=latest,
        )
        return TemplateResponse(request, "admin/promotions/promotion/report.html", context)


def _preview_rows(preview) -> dict:
    """The preview's figures as money, for the template."""
    currency = preview.region.currency
    evaluation = preview.evaluation
    return {
        "line_rows": [
            {
                "line": line,
                "unit_price": money_display(line.unit_price, currency),
                "discount": money_display(line.discount, currency),
                "units": ", ".join(money_display(u, currency) for u in line.units) or "—",
            }
            for line in preview.lines
        ],
        "applied_rows": [
            {"applied": applied, "amount": money_display(applied.amount, currency)}
            for applied in evaluation.applied
        ],
        "totals": {
            "subtotal": money_display(preview.subtotal, currency),
            "shipping": money_display(evaluation.shipping, currency),
            "discount": money_display(evaluation.discount, currency),
            "total": money_display(preview.total, currency),
        },
    }
