"""wallet_reconcile and seed_demo (docs/interface.md §4, §8)."""

import csv
import io
import stat

import pytest
from allauth.account.models import EmailAddress
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction

from accounts.models import User
from catalog.models import Region
from catalog.money import parse_amount
from tests.accounts.factories import UserFactory
from tests.wallet.factories import issue_card
from wallet.codes import code_display, code_hash, code_normalize
from wallet.models import Account, GiftCard, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.selectors import wallet_balance_get
from wallet.services import giftcard_redeem, wallet_credit, wallet_debit

pytestmark = pytest.mark.django_db

HEADER = ["code", "amount", "currency", "region", "expires_at", "batch"]
REGION_CODES = ["DE", "FR", "GB", "JP", "US"]


def _run(*args) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _exit_code(*argv) -> int:
    """Run a command the way `manage.py` does and return its exit status."""
    try:
        ManagementUtility(["manage.py", *argv]).execute()
    except SystemExit as exit_:
        return exit_.code
    return 0


def _some_money(user, other_user) -> None:
    giftcard_redeem(user=user, code=issue_card(amount=2500).code)
    wallet_debit(user=user, amount=700, idempotency_key="d", description="x")
    wallet_credit(user=other_user, amount=300, idempotency_key="c", description="x")
    issue_card(region="JP", amount=1000)


# --- wallet_reconcile -------------------------------------------------------------------------


def test_reconcile_clean_ledger_prints_one_line_and_exits_0(user, other_user, capsys):
    _some_money(user, other_user)

    out, err = _run("wallet_reconcile")

    assert out.count("\n") == 1
    accounts, transfers = Account.objects.count(), Transfer.objects.count()
    assert out == f"Ledger clean: {accounts} accounts and {transfers} transfers reconcile.\n"
    assert err == ""
    assert _exit_code("wallet_reconcile") == 0
    assert capsys.readouterr().out.count("\n") == 1


def test_reconcile_of_an_empty_ledger_is_clean():
    out, _ = _run("wallet_reconcile")
    assert out == "Ledger clean: 0 accounts and 0 transfers reconcile.\n"


def test_reconcile_names_an_account_whose_cached_balance_was_tampered_with(user, other_user):
    _some_money(user, other_user)
    account = Account.objects.get(user=user)
    Account.objects.filter(pk=account.pk).update(balance=5000)  # the ledger says 1800

    out = io.StringIO()
    with pytest.raises(CommandError) as refusal:
        call_command("wallet_reconcile", stdout=out)

    assert refusal.value.returncode == 1
    assert "does not reconcile" in str(refusal.value)
    text = out.getvalue()
    assert f"account {account.pk} ({user.email} · USD)" in text
    assert "cached balance 5000 != ledger 1800" in text
    assert "difference 3200" in text
    # nothing about the accounts that are right
    other = Account.objects.get(user=other_user)
    assert f"account {other.pk} " not in text
    assert not ledger_reconcile().clean


def test_reconcile_exits_1_when_a_balance_is_wrong(user, other_user, capsys):
    _some_money(user, other_user)
    account = Account.objects.get(user=other_user)
    Account.objects.filter(pk=account.pk).update(balance=0)

    assert _exit_code("wallet_reconcile") == 1
    captured = capsys.readouterr()
    assert f"account {account.pk}" in captured.out
    assert "Ledger does not reconcile" in captured.err


def test_a_shop_account_never_caches_a_balance_so_reconcile_proves_it_from_its_postings(
    user, other_user
):
    """A shop account's balance is the sum of its postings (docs/ledger.md "Shop accounts"):
    the database refuses a cached figure on its row, and a posting slipped onto it behind the
    services' back unbalances its transfer, which reconcile names."""
    _some_money(user, other_user)
    outstanding = Account.objects.get(kind=Account.Kind.GIFTCARDS_OUTSTANDING, currency="JPY")
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=outstanding.pk).update(balance=999)
    transfer = Transfer.objects.filter(postings__account=outstanding).first()
    Posting.objects.create(transfer=transfer, account=outstanding, currency="JPY", amount=7)

    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("wallet_reconcile", stdout=out)
    assert f"transfer {transfer.pk}: JPY postings sum to 7, not 0" in out.getvalue()


def test_reconcile_names_a_transfer_that_does_not_sum_to_zero(user, other_user):
    _some_money(user, other_user)
    transfer = Transfer.objects.filter(kind=Transfer.Kind.DEBIT).get()
    account = Account.objects.get(user=user)
    # An extra leg written behind the services' back (inserting is all the triggers allow).
    Posting.objects.create(
        transfer=transfer, account=account, currency="USD", amount=5, balance_after=1805
    )

    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("wallet_reconcile", stdout=out)

    text = out.getvalue()
    assert f"transfer {transfer.pk}: USD postings sum to 5, not 0" in text
    assert f"account {account.pk} ({user.email} · USD): cached balance 1800 != ledger 1805" in text
    assert f"account {account.pk}: its latest posting says balance 1805" in text


# --- seed_demo --------------------------------------------------------------------------------


def _read(path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        return header, [dict(zip(header, row, strict=True)) for row in reader]


@pytest.fixture
def code_file(tmp_path, settings):
    settings.DEBUG = True  # seed_demo refuses to run without it
    return tmp_path / "var" / "demo-codes.csv"


def test_seed_demo_creates_the_demo_users(code_file):
    _run("seed_demo", "--code-file", str(code_file))

    shopper = User.objects.get(email="demo@example.com")
    assert shopper.check_password("demo-pass-2026")
    assert shopper.region_id == "US"
    assert not shopper.is_staff
    admin = User.objects.get(email="admin@example.com")
    assert admin.check_password("admin-pass-2026")
    assert admin.is_staff
    assert admin.is_superuser
    for user in (shopper, admin):
        assert EmailAddress.objects.get(user=user).verified


def test_seed_demo_writes_the_code_file(code_file):
    out, err = _run("seed_demo", "--code-file", str(code_file))

    assert stat.S_IMODE(code_file.stat().st_mode) == 0o600
    header, rows = _read(code_file)
    assert header == HEADER
    for region in Region.objects.all():
        mine = [row for row in rows if row["region"] == region.code]
        assert len(mine) >= 3
        for row in mine:
            assert row["currency"] == region.currency
            assert parse_amount(row["amount"], currency=region.currency) > 0
            assert row["code"] == code_display(code_normalize(row["code"]))  # XXXX-XXXXXX-XXXXX
            assert row["expires_at"] == ""
            assert row["batch"] == "demo"
    assert {row["region"] for row in rows} == set(REGION_CODES)
    assert GiftCard.objects.count() == len(rows)
    assert GiftCard.objects.filter(status=GiftCard.Status.ACTIVE).count() == len(rows)
    for row in rows:
        assert code_normalize(row["code"]) not in out + err
        assert row["code"] not in out + err
    assert str(code_file) in out
    assert ledger_reconcile().clean
    assert not list(code_file.parent.glob("*.tmp"))


def test_seed_demo_amounts_are_major_units_with_the_currencys_digits(code_file):
    _run("seed_demo", "--code-file", str(code_file))
    _, rows = _read(code_file)
    amounts = {row["currency"]: row["amount"] for row in rows}
    assert amounts == {"USD": "25.00", "GBP": "20.00", "EUR": "25.00", "JPY": "3000"}


def test_seed_demo_prints_no_code(code_file, capsys):
    call_command("seed_demo", "--code-file", str(code_file))
    captured = capsys.readouterr()
    _, rows = _read(code_file)
    for row in rows:
        canonical = code_normalize(row["code"])
        for shown in (row["code"], canonical, canonical.lower()):
            assert shown not in captured.out
            assert shown not in captured.err
    assert captured.out.count("\n") == 1


def test_seed_demo_twice_keeps_the_same_codes(code_file):
    _run("seed_demo", "--code-file", str(code_file))
    first = code_file.read_text()
    cards = GiftCard.objects.count()

    out, _ = _run("seed_demo", "--code-file", str(code_file))

    assert code_file.read_text() == first
    assert GiftCard.objects.count() == cards
    assert User.objects.filter(email__in=["demo@example.com", "admin@example.com"]).count() == 2
    assert "0 user(s) and 0 product(s) created" in out
    assert "0 issued" in out
    assert stat.S_IMODE(code_file.stat().st_mode) == 0o600


def test_seed_demo_tops_up_after_a_code_is_redeemed(code_file):
    _run("seed_demo", "--code-file", str(code_file))
    _, before = _read(code_file)
    spent = next(row for row in before if row["region"] == "US")
    demo = User.objects.get(email="demo@example.com")
    giftcard_redeem(user=demo, code=spent["code"])

    _run("seed_demo", "--code-file", str(code_file))

    _, after = _read(code_file)
    codes_before = {row["code"] for row in before}
    codes_after = {row["code"] for row in after}
    assert spent["code"] not in codes_after
    assert codes_before - {spent["code"]} <= codes_after
    assert len(codes_after - codes_before) == 1
    assert sum(1 for row in after if row["region"] == "US") == 3
    new = next(row for row in after if row["code"] not in codes_before)
    assert new["region"] == "US"
    assert stat.S_IMODE(code_file.stat().st_mode) == 0o600
    active = set(
        GiftCard.objects.filter(status=GiftCard.Status.ACTIVE).values_list("code_hash", flat=True)
    )
    assert {code_hash(code_normalize(row["code"])) for row in after} == active


def test_seed_demo_replaces_a_file_whose_cards_are_unknown(code_file):
    """A code file left over from another database: its codes cannot redeem, so new ones."""
    code_file.parent.mkdir(parents=True)
    code_file.write_text(",".join(HEADER) + "\nABCD-EFGHJK-MNPQY,25.00,USD,US,,demo\n")

    _run("seed_demo", "--code-file", str(code_file))

    _, rows = _read(code_file)
    assert "ABCD-EFGHJK-MNPQY" not in {row["code"] for row in rows}
    assert len(rows) == 3 * len(REGION_CODES)
    assert stat.S_IMODE(code_file.stat().st_mode) == 0o600


def test_the_codes_in_the_file_redeem(code_file):
    _run("seed_demo", "--code-file", str(code_file))
    _, rows = _read(code_file)

    for row in rows:
        shopper = UserFactory(region_id=row["region"])
        redemption = giftcard_redeem(user=shopper, code=row["code"])
        assert redemption.currency == row["currency"]
        balance = wallet_balance_get(user=shopper)
        assert balance.amount == redemption.balance
        assert balance.amount == parse_amount(row["amount"], currency=row["currency"])
    assert not GiftCard.objects.filter(status=GiftCard.Status.ACTIVE).exists()
    assert ledger_reconcile().clean
