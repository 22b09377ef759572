"""Signing staff in for tests of the admin: value-moving staff need a second factor there
(accounts/staff_access.py), so a bare `client.force_login(staff)` is sent to set one up."""

from allauth.mfa.models import Authenticator
from django.test import Client

from accounts.two_factor import SESSION_KEY
from tests.accounts.factories import enable_totp


def login_staff(client: Client, user) -> Client:
    """Sign `user` into `client`; a member of staff also gets an authenticator app (unless
    they have one) and a session that proved it, as allauth's sign-in with a code leaves.
    Shoppers are only signed in. Returns `client`."""
    if user.is_staff:
        if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            enable_totp(user)
        user.refresh_from_db(fields=["session_epoch"])
    client.force_login(user)
    if user.is_staff:
        session = client.session
        session[SESSION_KEY] = [str(user.pk), user.session_epoch]
        session.save()
    return client
