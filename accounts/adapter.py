from allauth.account.adapter import DefaultAccountAdapter
from django.utils.encoding import force_str

SHOP_NAME = "Coinpurse"


class AccountAdapter(DefaultAccountAdapter):
    """Stores the region chosen at sign-up in the same save as the rest of the new user."""

    def save_user(self, request, user, form, commit=True):
        region = form.cleaned_data.get("region")
        if region is not None:
            user.region = region
        return super().save_user(request, user, form, commit=commit)

    def format_email_subject(self, subject) -> str:
        """Sign e-mails as the shop, not as whatever host name the request came in on."""
        return f"[{SHOP_NAME}] {force_str(subject)}"

    def get_client_ip(self, request) -> str:
        """The address allauth's sign-in limits count: the shop's own rule (accounts/network.py),
        so they and the guessing limits agree, and a short X-Forwarded-For is no 500."""
        from django.core.exceptions import PermissionDenied

        from accounts.network import client_ip

        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip
