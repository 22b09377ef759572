"""Demo data for `make run` (docs/interface.md §4). Idempotent: a second run adds only what is
missing."""

import os
from dataclasses import dataclass
from pathlib import Path

from allauth.account.models import EmailAddress
from django.db import transaction

from accounts.addresses import address_create
from accounts.models import Address, User
from catalog.demo import catalog_seed
from catalog.models import Region
from wallet.codefile import code_file_open, code_file_read, code_file_writer, code_rows
from wallet.codes import CodeTypo, code_hash, code_normalize
from wallet.models import GiftCard
from wallet.services import giftcard_issue

DEMO_SHOPPER = ("demo@example.com", "demo-pass-2026", "US")
DEMO_ADMIN = ("admin@example.com", "admin-pass-2026", "US")
CODES_PER_REGION = 3
# A pleasant demo value per currency, in minor units.
DEMO_CARD_AMOUNT = {"USD": 2500, "GBP": 2000, "EUR": 2500, "JPY": 3000}
DEMO_BATCH = "demo"


@dataclass(frozen=True)
class DemoSeedResult:
    users_created: int
    products_created: int
    codes_kept: int
    codes_issued: int
    code_file: Path


def _user_ensure(email: str, password: str, region_code: str, *, staff: bool) -> bool:
    if User.objects.filter(email=email).exists():
        return False
    region = Region.objects.get(code=region_code)
    if staff:
        user = User.objects.create_superuser(email=email, password=password, region=region)
    else:
        user = User.objects.create_user(email=email, password=password, region=region)
    EmailAddress.objects.create(user=user, email=email, primary=True, verified=True)
    return True


def _usable_rows(path: Path) -> list[dict[str, str]]:
    """Rows of an earlier demo code file whose cards can still be redeemed."""
    if not path.exists():
        return []
    rows = code_file_read(path)
    hashes = {}
    for row in rows:
        try:
            hashes[code_hash(code_normalize(row["code"]))] = row
        except (CodeTypo, KeyError):
            continue
    active = set(
        GiftCard.objects.filter(code_hash__in=hashes, status=GiftCard.Status.ACTIVE).values_list(
            "code_hash", flat=True
        )
    )
    return [row for digest, row in hashes.items() if digest in active]


# The demo shopper's saved default address (docs/interface.md §10), in its region (US).
DEMO_ADDRESS = {
    "full_name": "Demo Shopper",
    "line1": "350 Fifth Avenue",
    "line2": "",
    "city": "New York",
    "postal_code": "10118",
    "phone": "",
}


def _demo_address_ensure() -> None:
    shopper = User.objects.get(email=DEMO_SHOPPER[0])
    if not Address.objects.filter(user=shopper).exists():
        address_create(user=shopper, data=DEMO_ADDRESS)


def demo_seed(*, code_file: Path) -> DemoSeedResult:
    """Create the demo users and keep `CODES_PER_REGION` unredeemed demo codes per region in
    `code_file` (mode 0600). Codes already redeemed are replaced; nothing is printed.
    """
    with transaction.atomic():
        created = sum(
            [
                _user_ensure(*DEMO_SHOPPER, staff=False),
                _user_ensure(*DEMO_ADMIN, staff=True),
            ]
        )
        _demo_address_ensure()
        products = catalog_seed()
        kept = _usable_rows(code_file)
        rows = [
            [r["code"], r["amount"], r["currency"], r["region"], r["expires_at"], r["batch"]]
            for r in kept
        ]
        issued = 0
        for region in Region.objects.all():
            have = sum(1 for r in kept if r["region"] == region.code)
            for _ in range(CODES_PER_REGION - have):
                amount = DEMO_CARD_AMOUNT[region.currency]
                card = giftcard_issue(region=region, amount=amount)
                rows += code_rows(
                    [card.code],
                    amount=amount,
                    currency=region.currency,
                    region=region.code,
                    expires_on=None,
                    batch=DEMO_BATCH,
                )
                issued += 1
        if issued or not code_file.exists():
            code_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = code_file.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            with code_file_open(tmp) as handle:
                writer = code_file_writer(handle)
                writer.writerows(rows)
            os.replace(tmp, code_file)
        code_file.chmod(0o600)  # also when an older file was kept as it was
    return DemoSeedResult(
        users_created=created,
        products_created=products,
        codes_kept=len(kept),
        codes_issued=issued,
        code_file=code_file,
    )
