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


def city_line(region_code: str, *, city: str, postal_code: str) -> str:
    """The town and postal code as the country writes them: after the town in the US, the UK
    and Japan, before it in France and Germany."""
    if region_code in {"FR", "DE"}:
        return f"{postal_code} {city}".strip()
    return f"{city} {postal_code}".strip()


class Address(models.Model):
    """A saved delivery address of a shopper (docs/interface.md §10). Its country is always the
    region it was saved in (the shopper's store); checkout offers only the addresses of the
    shopper's current region. An order copies the address it ships to, so editing or deleting
    an address never changes an order."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses"
    )
    region = models.ForeignKey("catalog.Region", on_delete=models.PROTECT, related_name="+")
    full_name = models.CharField("full name", max_length=100)
    line1 = models.CharField("address line 1", max_length=120)
    line2 = models.CharField("address line 2", max_length=120, blank=True)
    city = models.CharField(max_length=80)
    postal_code = models.CharField("postal code", max_length=12)
    phone = models.CharField(max_length=30, blank=True)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-is_default", "id"]
        verbose_name_plural = "addresses"
        constraints = [
            # At most one default per shopper, whatever two tabs do at once.
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(is_default=True),
                name="accounts_address_one_default",
            ),
        ]

    def __str__(self):
        return f"{self.full_name}, {self.line1}, {self.city} {self.postal_code}"

    @property
    def lines(self) -> list[str]:
        """The address as it is written on a parcel, one line each."""
        return [
            line
            for line in (
                self.full_name,
                self.line1,
                self.line2,
                city_line(self.region_id, city=self.city, postal_code=self.postal_code),
                self.region.name,
            )
            if line
        ]
