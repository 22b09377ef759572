from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views import View

from accounts.network import client_ip
from catalog.money import format_money
from wallet.exceptions import CodeRefused
from wallet.forms import ActivityReportCreateForm, GiftCardRedeemForm
from wallet.selectors import posting_get_for_user, wallet_activity_list, wallet_balance_get
from wallet.services import activity_report_create, giftcard_redeem


class GiftCardRedeemView(LoginRequiredMixin, View):
    """ "Redeem a Gift Card": a claim code adds its value to the balance at once."""

    template_name = "wallet/giftcard_redeem.html"

    def get(self, request):
        return render(request, self.template_name, {"form": GiftCardRedeemForm(), **self._hint()})

    @staticmethod
    def _hint():
        # Under `make run` (DEBUG) say where the demo codes are; never in production.
        return {"demo_hint": settings.DEBUG}

    def post(self, request):
        form = GiftCardRedeemForm(request.POST)
        if not form.is_valid():
            reason = "required" if not request.POST.get("code", "").strip() else "typo"
            return self._refused(request, form, reason, form.errors["code"][0])
        try:
            redemption = giftcard_redeem(
                user=request.user,
                code=form.cleaned_data["code"],
                ip=client_ip(request),
            )
        except CodeRefused as refusal:
            status = self.REFUSAL_STATUS.get(refusal.reason, 200)
            response = self._refused(request, form, refusal.reason, refusal.message, status=status)
            if refusal.reason == "unavailable":
                response["Retry-After"] = "60"
            return response
        locale = request.user.region.locale
        amount = format_money(redemption.card.amount, currency=redemption.currency, locale=locale)
        balance = format_money(redemption.balance, currency=redemption.currency, locale=locale)
        messages.success(
            request, f"{amount} was added to your balance. Your balance is now {balance}."
        )
        return redirect("wallet:overview")

    # What the shopper typed is shown back only when it is not a real code (so they can fix
    # a typo); a real card's code never appears on a page again (docs/interface.md §7).
    ECHO_REASONS = frozenset({"required", "typo", "not_found"})
    # Locked out: 429. The shared cache that counts guesses is down: 503, nothing was written
    # (redemption fails closed, docs/interface.md §9). Any other refusal is a form error.
    REFUSAL_STATUS = {"locked": 429, "unavailable": 503}

    def _refused(self, request, form, reason, message, status=200):
        context = {
            "form": form,
            "error_reason": reason,
            "error_message": message,
            "echo_code": form.data.get("code", "")[:64] if reason in self.ECHO_REASONS else "",
            **self._hint(),
        }
        return render(request, self.template_name, context, status=status)


class WalletOverviewView(LoginRequiredMixin, View):
    """The balance and every movement of it, newest first, paginated."""

    def get(self, request):
        paginator = Paginator(
            wallet_activity_list(user=request.user), settings.WALLET_ACTIVITY_PAGE_SIZE
        )
        page = paginator.get_page(request.GET.get("page"))
        balance = wallet_balance_get(user=request.user)
        # The navigation bar shows the same balance: hand it over instead of asking again.
        context = {"balance": balance, "nav_balance": balance, "page": page}
        return render(request, "wallet/wallet_overview.html", context)


class ActivityReportCreateView(LoginRequiredMixin, View):
    """ "Report a problem" beside one activity row; staff see the report in the admin."""

    template_name = "wallet/activityreport_create.html"

    def get(self, request, posting_id):
        posting = posting_get_for_user(user=request.user, posting_id=posting_id)
        return render(
            request, self.template_name, {"posting": posting, "form": ActivityReportCreateForm()}
        )

    def post(self, request, posting_id):
        posting = posting_get_for_user(user=request.user, posting_id=posting_id)
        form = ActivityReportCreateForm(request.POST)
        if not form.is_valid():
            # docs/interface.md §6: a refused form carries `data-testid="form-error"` and a reason.
            context = {
                "posting": posting,
                "form": form,
                "error_reason": form.errors.as_data()["message"][0].code,
                "error_message": "Your report was not sent.",
            }
            return render(request, self.template_name, context)
        activity_report_create(
            user=request.user, posting=posting, message=form.cleaned_data["message"]
        )
        messages.success(
            request, "Thank you. Our team will look into it and get back to you by e-mail."
        )
        return redirect("wallet:overview")
