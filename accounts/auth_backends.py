"""Authentication backends: Django's and allauth's, each reading the signed-in person with
their region in one query.

Every signed-in page shows the shopper's store (the navigation's "Store: …", money in the
region's locale, the wallet's currency), so the region is read on nearly every request: joined
to the user's own row instead of a second query of its own (docs/interface.md §9, the pages'
query counts). Authentication itself is unchanged.
"""

from allauth.account.auth_backends import AuthenticationBackend as AllauthBackend
from django.contrib.auth.backends import ModelBackend


class _RegionWithUser:
    def get_user(self, user_id):
        from accounts.models import User

        try:
            user = User._default_manager.select_related("region").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class ShopperModelBackend(_RegionWithUser, ModelBackend):
    """Django's ModelBackend; the user read with their region."""


class ShopperAllauthBackend(_RegionWithUser, AllauthBackend):
    """allauth's backend (sign-in by e-mail); the user read with their region."""
