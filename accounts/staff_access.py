"""Staff who can move value reach the admin only with two-factor on (docs/interface.md §9).

A password is one secret that can leak; whoever can issue codes, approve batches, adjust
balances or refund orders must also hold an authenticator app, and the session must have
proved it (accounts/two_factor.py). Superusers hold every permission, so they count too.
"""

from allauth.mfa.models import Authenticator
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode

from accounts.two_factor import session_has_two_factor

# Permissions that move value or let someone else do it; a group or user holding any of them
# is a "value-moving" one, whatever its name.
VALUE_MOVING_PERMISSIONS = (
    "checkout.refund_order",
    "wallet.adjust_balance",
    "wallet.approve_balanceadjustment",
    "wallet.issue_giftcardbatch",
    "wallet.approve_giftcardbatch",
    # A promotion gives money away: whoever creates, changes or approves one.
    "promotions.add_promotion",
    "promotions.change_promotion",
    "promotions.approve_promotion",
    # Sending a bought gift card again decides where its code goes.
    "checkout.change_ordergiftcard",
)

SET_UP_MESSAGE = (
    "Your account can move money, so the staff admin needs two-factor authentication. "
    "Turn on an authenticator app here, then go back to the admin."
)
CONFIRM_MESSAGE = "Enter a code from your authenticator app to open the staff admin."


def user_moves_value(user) -> bool:
    """Whether `user` may move value: a superuser, or any value-moving permission (directly
    or through a group). Uses the permission cache the admin fills anyway."""
    return user.is_superuser or any(user.has_perm(perm) for perm in VALUE_MOVING_PERMISSIONS)


class StaffTwoFactorMiddleware:
    """Sends value-moving staff without a second factor in this session from /admin/ to
    the shop's two-factor pages. The admin's sign-in and sign-out stay open (they lead to
    allauth's own pages); everything else under the admin's prefix is guarded."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._guarded(request) and not session_has_two_factor(request):
            return self._second_factor_redirect(request)
        return self.get_response(request)

    @staticmethod
    def _guarded(request) -> bool:
        if not request.path.startswith(reverse("admin:index")):
            return False
        if request.path in (reverse("admin:login"), reverse("admin:logout")):
            return False
        user = request.user
        return user.is_authenticated and user.is_staff and user_moves_value(user)

    @staticmethod
    def _second_factor_redirect(request) -> HttpResponseRedirect:
        has_totp = Authenticator.objects.filter(
            user_id=request.user.pk, type=Authenticator.Type.TOTP
        ).exists()
        if has_totp:
            # On, but this session has not used it (signed in before, or by another route).
            messages.info(request, CONFIRM_MESSAGE)
            next_url = (
                request.get_full_path() if request.method == "GET" else reverse("admin:index")
            )
            target = f"{reverse('mfa_reauthenticate')}?{urlencode({'next': next_url})}"
        else:
            messages.warning(request, SET_UP_MESSAGE)
            target = reverse("mfa_activate_totp")
        return HttpResponseRedirect(target)
