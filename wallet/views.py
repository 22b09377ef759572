import math

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.timesince import timesince
from django.views import View

from accounts.network import client_ip
from catalog.money import format_money
from config.frame_reads import frame_reads
from wallet import guessing
from wallet.codes import code_may_be_shown
from wallet.exceptions import AlreadyReported, CodeRefused, WalletError
from wallet.forms import ActivityReportCreateForm, GiftCardRedeemForm, SupportRequestCreateForm
from wallet.help import help_facts
from wallet.models.credit import CREDIT_NO_EXPIRY_ON
from wallet.overview_reads import wallet_overview_get
from wallet.selectors import (
    activity_report_get_for_user,
    activity_report_get_for_user_or_404,
    activity_rows,
    credit_lot_rows,
    giftcard_get_by_code,
    posting_get_for_user,
)
from wallet.services import activity_report_create, giftcard_redeem, support_request_create

# Below this many refused codes left before the lockout, the redeem page warns.
LOCKOUT_WARNING_FROM = 3


class GiftCardRedeemView(LoginRequiredMixin, View):
    """ "Redeem a Gift Card": a claim code adds its value to the balance at once."""

    template_name = "wallet/giftcard_redeem.html"

    def get(self, request):
        context = {"form": GiftCardRedeemForm(), **self._hint(), **self._limits(request)}
        return render(request, self.template_name, context)

    @staticmethod
    def _hint():
        # Under `make run` (DEBUG) say where the demo codes are; never in production.
        return {"demo_hint": settings.DEBUG}

    @staticmethod
    def _limits(request, *, refused: bool = False) -> dict:
        """While locked, the minutes left (the form is disabled); after a counted refusal, how
        many more wrong codes lock it. A cache that cannot be reached says nothing here: the
        POST itself answers `unavailable`."""
        ip = client_ip(request)
        try:
            seconds = guessing.redemption_lock_seconds_left(user_id=request.user.pk, ip=ip)
            left = (
                guessing.redemption_attempts_left(user_id=request.user.pk, ip=ip)
                if refused and not seconds
                else None
            )
        except guessing.CACHE_ERRORS:
            return {}
        return {
            "locked_minutes": math.ceil(seconds / 60) if seconds else 0,
            "lockout_minutes": math.ceil(settings.REDEEM_LOCKOUT_SECONDS / 60),
            "attempts_left": left
            if left is not None and 0 < left <= LOCKOUT_WARNING_FROM
            else None,
        }

    def post(self, request):
        form = GiftCardRedeemForm(request.POST)
        if not form.is_valid():
            reason = "required" if not request.POST.get("code", "").strip() else "typo"
            # Over 64 characters is a `typo` and counts; an empty form is not counted.
            return self._refused(request, form, reason, form.errors["code"][0])
        try:
            redemption = giftcard_redeem(
                user=request.user,
                code=form.cleaned_data["code"],
                ip=client_ip(request),
            )
        except CodeRefused as refusal:
            status = self.REFUSAL_STATUS.get(refusal.reason, 200)
            message = self._explain(request, refusal, form.cleaned_data["code"])
            response = self._refused(request, form, refusal.reason, message, status=status)
            if refusal.reason == "unavailable":
                response["Retry-After"] = "60"
            return response
        # The card's region is the shopper's (checked under the lock), read with the card.
        locale = redemption.card.region.locale
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
    # The refusals that count against the guessing limits (the warning follows them).
    COUNTED = frozenset(
        {"typo", "not_found", "already_redeemed", "expired", "disabled", "wrong_region"}
    )

    @staticmethod
    def _explain(request, refusal: CodeRefused, code: str) -> str:
        """The refusal in plain words, and for a card that exists, what only its holder may
        know: whether they redeemed it themselves and when, which store it is for. The
        service has refused already; this reads the card again only to say so."""
        if refusal.reason not in ("already_redeemed", "wrong_region"):
            return refusal.message
        card = giftcard_get_by_code(code=code)
        if card is None:  # gone since the refusal; the plain reason stands
            return refusal.message
        if refusal.reason == "wrong_region":
            return (
                f"This card is for the {card.region.name} store, so it can't be redeemed in "
                f"yours ({request.user.region.name})."
            )
        if card.redeemed_by_id == request.user.pk and card.redeemed_at is not None:
            ago = timesince(card.redeemed_at, timezone.now(), depth=1)
            return f"You redeemed this card {ago} ago: its value is already in your balance."
        return "This card was already redeemed."

    def _refused(self, request, form, reason, message, status=200):
        shown = form.data.get("code", "")[:64]
        # A typo holding a real code (a symbol too many, an odd character between its groups)
        # is not given back either: judged on exactly what would be shown (cheap, whatever the
        # length sent; and no accent cut off after the code would let it through).
        echoed = reason in self.ECHO_REASONS and (reason != "typo" or code_may_be_shown(shown))
        context = {
            "form": form,
            "error_reason": reason,
            "error_message": message,
            "echo_code": shown if echoed else "",
            # The box is emptied for a real card's code: say why, and what to do instead.
            "code_not_shown": not echoed and reason not in ("unavailable",),
            **self._hint(),
            **self._limits(request, refused=reason in self.COUNTED),
        }
        return render(request, self.template_name, context, status=status)


class WalletOverviewView(LoginRequiredMixin, View):
    """The balance (gift card money and each promotional credit lot with its last day) and
    every movement of it, newest first, paginated; the points and coins beside it, each
    linking to its own page."""

    def get(self, request):
        # The balance, points and coins (docs/interface.md §13) and the page of activity with
        # its count: two statements (wallet/overview_reads.py), and the navigation bar's cart
        # count sent with them (config/frame_reads.py): one round trip.
        frame = frame_reads(request)
        overview = wallet_overview_get(
            user=request.user,
            page=request.GET.get("page"),
            page_size=settings.WALLET_ACTIVITY_PAGE_SIZE,
            also=frame.statements,
        )
        balance = overview.balance
        # The navigation bar shows the same balance: hand it over instead of asking again.
        context = {
            "balance": balance,
            "nav_balance": balance,
            "page": overview.page,
            "overview": overview,  # its rows, built only if the page is rendered afresh
            "credit_lots": credit_lot_rows(balance.lots),
            # Credit from converted points has this last day: the page says "No expiry".
            "no_expiry_on": CREDIT_NO_EXPIRY_ON,
            "units": overview.units,
            **frame.context(overview.also),
        }
        # Everything the page's content shows, as values: its `{% memo %}` key (the text for
        # this key is the text a render gives, so a balance or a movement is never stale).
        region = request.user.region
        context["page_key"] = (
            region.locale,
            region.currency,
            balance,
            overview.units,
            tuple(context["credit_lots"]),
            CREDIT_NO_EXPIRY_ON,
            # The rows as read: each determines what its row shows (wallet/overview_reads.py).
            overview.read,
            overview.page.number,
            overview.page.paginator.num_pages,
        )
        return render(request, "wallet/wallet_overview.html", context)


class ActivityReportCreateView(LoginRequiredMixin, View):
    """ "Report a problem" beside one activity row; staff see the report in the admin. A row
    the shopper already reported says so and links to the report instead of a second form."""

    template_name = "wallet/activityreport_create.html"

    def _context(self, request, posting, **extra):
        return {
            "posting": posting,
            "row": activity_rows([posting])[0],
            "existing": activity_report_get_for_user(user=request.user, posting_id=posting.pk),
            **extra,
        }

    def get(self, request, posting_id):
        posting = posting_get_for_user(user=request.user, posting_id=posting_id)
        context = self._context(request, posting, form=ActivityReportCreateForm())
        return render(request, self.template_name, context)

    def post(self, request, posting_id):
        posting = posting_get_for_user(user=request.user, posting_id=posting_id)
        form = ActivityReportCreateForm(request.POST)
        if not form.is_valid():
            # docs/interface.md §6: a refused form carries `data-testid="form-error"` and a reason.
            context = self._context(
                request,
                posting,
                form=form,
                error_reason=form.errors.as_data()["message"][0].code,
                error_message="Your report was not sent.",
            )
            return render(request, self.template_name, context)
        try:
            report = activity_report_create(
                user=request.user, posting=posting, message=form.cleaned_data["message"]
            )
        except AlreadyReported:
            context = self._context(
                request,
                posting,
                form=form,
                error_reason="already_reported",
                error_message="You have already reported this activity: your report is below.",
            )
            return render(request, self.template_name, context)
        except WalletError as error:
            context = self._context(
                request, posting, form=form, error_reason="invalid", error_message=str(error)
            )
            return render(request, self.template_name, context)
        messages.success(
            request,
            f"Thank you. Your report #{report.pk} was sent: we have e-mailed you a copy, and "
            "our answer will appear on the report's page.",
        )
        return redirect("wallet:overview")


class ActivityReportDetailView(LoginRequiredMixin, View):
    """One of the shopper's own reports: what they wrote, its status and staff's reply."""

    def get(self, request, report_id):
        report = activity_report_get_for_user_or_404(user=request.user, report_id=report_id)
        context = {
            "report": report,
            "posting": report.posting,
            "row": activity_rows([report.posting])[0],
        }
        return render(request, "wallet/activityreport_detail.html", context)


class HelpView(View):
    """/help/: how gift cards and the balance work (the shop's own figures), and a contact
    form for staff. Open to visitors: someone who cannot sign in needs it most."""

    template_name = "wallet/help.html"

    def get(self, request):
        initial = {}
        if request.user.is_authenticated:
            initial = {"name": request.user.get_full_name(), "email": request.user.email}
        return self._page(request, SupportRequestCreateForm(initial=initial))

    def post(self, request):
        form = SupportRequestCreateForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                support_request_create(
                    user=request.user,
                    name=data["name"],
                    email=data["email"],
                    topic=data["topic"],
                    message=data["message"],
                )
            except WalletError as error:
                return self._page(request, form, reason="invalid", message=str(error))
            messages.success(
                request,
                f"Thank you, your message was sent. We answer by e-mail to {data['email']}, "
                "usually within one working day.",
            )
            return redirect("wallet:help")
        first = next(iter(form.errors))
        return self._page(
            request, form, reason=first, message="Your message was not sent: see below."
        )

    def _page(self, request, form, *, reason: str = "", message: str = ""):
        context = {
            "form": form,
            "facts": help_facts(),
            "error_reason": reason,
            "error_message": message,
        }
        return render(request, self.template_name, context, status=200)
