from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils.crypto import salted_hmac


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A shopper or staff member; signs in with an e-mail address and belongs to one region."""

    username = None
    email = models.EmailField("e-mail address", unique=True)
    region = models.ForeignKey(
        "catalog.Region", on_delete=models.PROTECT, related_name="users", default="US"
    )
    session_epoch = models.PositiveIntegerField(
        default=0,
        editable=False,
        help_text="Moves on whenever two-factor is turned on or off; every session signed in "
        "under an earlier epoch ends (accounts/two_factor.py).",
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    class Meta:
        ordering = ["email"]

    def __str__(self):
        return self.email

    @property
    def currency(self) -> str:
        return self.region.currency

    # Django keeps this HMAC in the session and ends any session whose HMAC no longer matches
    # (AuthenticationMiddleware). It covers the password; the epoch adds two-factor, so turning
    # it on or off ends the account's other sessions too. Epoch 0 keeps Django's own HMAC:
    # sessions of accounts that never touched two-factor survive the upgrade.
    def get_session_auth_hash(self) -> str:
        return self._session_auth_hash()

    def get_session_auth_fallback_hash(self):
        for fallback_secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_auth_hash(secret=fallback_secret)

    def _session_auth_hash(self, secret=None) -> str:
        if not self.session_epoch:
            return self._get_session_auth_hash(secret=secret)
        return salted_hmac(
            "accounts.User.get_session_auth_hash",
            f"{self.password}:{self.session_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()
