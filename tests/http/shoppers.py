"""Signed-in shoppers, fresh codes and filled carts for clients that speak HTTP to the servers of
tests/http/servers.py, made through the real services in this process (same database, cache
and secrets as the servers)."""

import csv
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.utils.crypto import get_random_string

from accounts.models import User
from tests.accounts.factories import UserFactory

CSRF_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True)
class Shopper:
    """A shopper with a session the servers accept: send `cookie` as the Cookie header and
    `csrf` as the form's `csrfmiddlewaretoken` (Django takes its unmasked secret as a token)."""

    user: User
    cookie: str
    csrf: str


def shopper_sign_in(user: User) -> Shopper:
    """A real session for `user`, made by Django's `login` (as the sign-in page does)."""
    client = Client()
    client.force_login(user)
    session_key = client.cookies[settings.SESSION_COOKIE_NAME].value
    csrf = get_random_string(32, CSRF_ALPHABET)
    cookie = f"{settings.SESSION_COOKIE_NAME}={session_key}; {settings.CSRF_COOKIE_NAME}={csrf}"
    return Shopper(user=user, cookie=cookie, csrf=csrf)


def shoppers_sign_in(*, count: int, region: str = "US") -> list[Shopper]:
    """`count` new shoppers of `region`, each signed in."""
    return [shopper_sign_in(UserFactory(region_id=region)) for _ in range(count)]


def form_body(shopper: Shopper, **fields: str) -> str:
    """A urlencoded form body with the shopper's CSRF token."""
    return urlencode({"csrfmiddlewaretoken": shopper.csrf, **fields})


def codes_issue(*, count: int, folder: Path, region: str = "US", amount: str = "1.00") -> list[str]:
    """Issue `count` cards through `issue_giftcards`; return their codes (read from its CSV in
    `folder`, the only copy: the caller keeps them out of every output)."""
    path = folder / f"codes-{uuid.uuid4().hex}.csv"
    call_command(
        "issue_giftcards",
        count=str(count),
        amount=amount,
        region=region,
        output=str(path),
        stdout=open(Path("/dev/null"), "w"),  # noqa: SIM115 (its one-line summary)
    )
    with open(path, encoding="utf-8", newline="") as rows:
        codes = [row["code"] for row in csv.DictReader(rows)]
    path.unlink()
    return codes


def history_give(users, *, rows: int, amount: int = 1_00) -> None:
    """`rows` credits of `amount` on each shopper's balance (a short activity list, and the
    wallet account made, as for any shopper who has used the wallet before)."""
    from wallet.services import wallet_credit

    for user in users:
        for row in range(rows):
            wallet_credit(
                user=user,
                amount=amount,
                idempotency_key=f"history:{user.pk}:{row}",
                description="history",
            )


def carts_fill(users, *, product: str, balance: int = 100_00) -> None:
    """Give each shopper `balance` (minor units), a default address and one `product` in the
    saved cart, through the real services (the demo catalog is seeded first)."""
    from catalog.demo import catalog_seed
    from checkout.services import cart_add
    from tests.checkout.shopping import address_give
    from wallet.models import Account
    from wallet.services import system_account_get_or_create, wallet_credit

    catalog_seed()
    system_account_get_or_create(kind=Account.Kind.PURCHASES, currency="USD")
    for user in users:
        if balance:
            wallet_credit(
                user=user, amount=balance, idempotency_key=f"fund:{user.pk}", description="fund"
            )
        address_give(user)
        cart_add(user=user, session={}, slug=product, quantity=1)
