import time

import factory
from allauth.mfa import app_settings as mfa_settings
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)

from accounts.models import User

PASSWORD = "correct-horse-2026"


class UserFactory(factory.django.DjangoModelFactory):
    """A shopper in a region (US unless `region_id=` says otherwise), password `PASSWORD`."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    region_id = "US"
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


def enable_totp(user: User) -> str:
    """Turn on an authenticator app for `user` through allauth's own action; return its secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def enable_recovery_codes(user: User) -> list[str]:
    """Give `user` allauth's recovery codes (as activating TOTP does); return them, unused."""
    return RecoveryCodes.activate(user).get_unused_codes()


def totp_code(secret: str, *, at: float | None = None) -> str:
    """The code an authenticator app shows for `secret` now (or at the Unix time `at`)."""
    counter = int(time.time() if at is None else at) // mfa_settings.TOTP_PERIOD
    return format_hotp_value(hotp_value(secret, counter))
