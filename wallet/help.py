"""The figures the help page states about gift cards and the balance, read from the shop's own
settings and rules, so that the page says what the shop actually does."""

import math
from dataclasses import dataclass

from django.conf import settings

from catalog.models import Region
from wallet.codes import CODE_LENGTH


@dataclass(frozen=True)
class HelpFacts:
    code_length: int
    wrong_codes_per_account: int
    wrong_codes_per_address: int
    window_minutes: int
    lockout_minutes: int
    regions: list[str]


def help_facts() -> HelpFacts:
    """The limits of docs/interface.md §7 as configured here; one query (the region names)."""
    return HelpFacts(
        code_length=CODE_LENGTH,
        wrong_codes_per_account=settings.REDEEM_LIMIT_PER_USER,
        wrong_codes_per_address=settings.REDEEM_LIMIT_PER_IP,
        window_minutes=math.ceil(settings.REDEEM_WINDOW_SECONDS / 60),
        lockout_minutes=math.ceil(settings.REDEEM_LOCKOUT_SECONDS / 60),
        regions=list(Region.objects.order_by("name").values_list("name", flat=True)),
    )
