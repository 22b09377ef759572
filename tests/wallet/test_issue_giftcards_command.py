"""issue_giftcards (docs/interface.md §8, issue #3) in-process, through `call_command`, on
both databases. As a real `manage.py` process (exit codes, stdout/stderr, signals):
tests/wallet/test_issue_giftcards_cli.py."""

import csv
import datetime
import errno
import io
import os
import re
import stat
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError
from django.db.models import Sum
from django.utils import timezone

import wallet.management.commands.issue_giftcards as command_module
import wallet.services.batches as services
from catalog.models import Region
from tests.accounts.factories import UserFactory
from tests.wallet.ledger_state import ledger_state
from tests.wallet.staff import redeem_outcome, small_chunks
from wallet.codes import code_hash, code_normalize
from wallet.models import Account, GiftCard, GiftCardBatch, Posting, Transfer
from wallet.reconcile import ledger_reconcile
from wallet.services import giftcard_batch_create, giftcard_batch_issue

pytestmark = pytest.mark.django_db

SYMBOL = "[0-9A-HJKMNP-TV-Z]"
CODE_SHAPE = re.compile(rf"^{SYMBOL}{{4}}-{SYMBOL}{{6}}-{SYMBOL}{{5}}$")


def _issue(output: Path, *args: str) -> tuple[str, str]:
    """Run the command in-process; returns (stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("issue_giftcards", *args, "--output", str(output), stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _read(path: Path) -> tuple[str, list[dict[str, str]]]:
    text = path.read_text(encoding="utf-8")
    return text.splitlines()[0], list(csv.DictReader(io.StringIO(text)))


def _leaks(codes, text: str) -> list[str]:
    """The codes that appear in `text`, dashed or not, in any case."""
    flat = text.upper()
    return [c for c in codes if c in flat or code_normalize(c) in flat.replace("-", "")]


def _balance(kind: str, currency: str) -> int:
    """A shop account's balance: the sum of its postings (not cached on its row)."""
    postings = Posting.objects.filter(account__kind=kind, account__currency=currency)
    return postings.aggregate(total=Sum("amount"))["total"] or 0


def _yesterday() -> str:
    """A last day already over in every region: two days before the UTC date is at least
    yesterday in any zone (tests/wallet/test_expiry_timezones.py has the exact boundaries)."""
    return (timezone.localdate() - datetime.timedelta(days=2)).isoformat()


# --- happy path (in-process) ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "amount_text", "amount", "currency"),
    [("US", "25.00", 2500, "USD"), ("JP", "1000", 1000, "JPY"), ("FR", "7.5", 750, "EUR")],
)
def test_issue_writes_a_private_file_of_codes_that_each_redeem_once(
    tmp_path, region, amount_text, amount, currency
):
    output = tmp_path / "codes.csv"
    count = 12

    out, err = _issue(
        output, "--count", str(count), "--amount", amount_text, "--region", region.lower()
    )

    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    header, rows = _read(output)
    assert header == "code,amount,currency,region,expires_at,batch"
    assert len(rows) == count
    batch = GiftCardBatch.objects.get()
    assert batch.status == GiftCardBatch.Status.ISSUED
    assert (batch.card_count, batch.amount, batch.currency) == (count, amount, currency)
    assert batch.issued_at is not None
    expected_amount = f"{amount // 100}.{amount % 100:02d}" if currency != "JPY" else str(amount)
    for row in rows:
        assert CODE_SHAPE.match(row["code"]), row["code"]
        assert row["amount"] == expected_amount
        assert (row["currency"], row["region"], row["expires_at"]) == (currency, region, "")
        assert row["batch"] == batch.name
    codes = [row["code"] for row in rows]
    assert len(set(codes)) == count
    # Exactly the cards of the file, stored by keyed hash only.
    assert GiftCard.objects.filter(batch=batch, status=GiftCard.Status.ACTIVE).count() == count
    assert set(GiftCard.objects.values_list("code_hash", flat=True)) == {
        code_hash(code_normalize(code)) for code in codes
    }
    # The liability of the whole batch is in the ledger, and the ledger reconciles.
    assert _balance(Account.Kind.GIFTCARDS_OUTSTANDING, currency) == count * amount
    assert _balance(Account.Kind.GIFTCARDS_ISSUED, currency) == -count * amount
    assert ledger_reconcile().clean
    call_command("wallet_reconcile", stdout=io.StringIO())
    # One summary line, and not one code in anything printed.
    assert out.count("\n") == 1
    assert out.startswith(f"Issued {count:,} cards of {expected_amount} {currency}")
    assert err == ""
    assert _leaks(codes, out + err) == []

    shopper = UserFactory(region_id=region)
    stranger = UserFactory(region_id="GB")
    assert redeem_outcome(stranger, codes[0]) == "wrong_region"
    assert [redeem_outcome(shopper, code) for code in codes] == ["redeemed"] * count
    assert [redeem_outcome(shopper, code) for code in codes[:2]] == ["already_redeemed"] * 2
    assert Account.objects.get(user=shopper).balance == count * amount
    assert _balance(Account.Kind.GIFTCARDS_OUTSTANDING, currency) == 0
    assert ledger_reconcile().clean


def test_issue_with_expiry_and_batch_name(tmp_path):
    output = tmp_path / "codes.csv"
    expires = (timezone.localdate() + datetime.timedelta(days=90)).isoformat()

    out, _ = _issue(
        output,
        "--count",
        "3",
        "--amount",
        "10",
        "--region",
        "GB",
        "--expires",
        expires,
        "--batch-name",
        "Spring campaign",
    )

    _, rows = _read(output)
    assert {(r["amount"], r["expires_at"], r["batch"]) for r in rows} == {
        ("10.00", expires, "Spring campaign")
    }
    batch = GiftCardBatch.objects.get()
    assert batch.name == "Spring campaign"
    assert batch.expires_on.isoformat() == expires
    assert set(GiftCard.objects.values_list("expires_on", flat=True)) == {batch.expires_on}
    assert "'Spring campaign'" in out


def test_issue_streams_in_chunks(tmp_path, monkeypatch):
    """Cards go to the database and the file a chunk at a time, never all at once."""
    small_chunks(monkeypatch, 4)
    sizes = []
    real_insert = services.giftcards_bulk_insert
    monkeypatch.setattr(
        services,
        "giftcards_bulk_insert",
        lambda rows, **kw: sizes.append(len(rows)) or real_insert(rows, **kw),
    )

    _issue(tmp_path / "codes.csv", "--count", "10", "--amount", "1", "--region", "US")

    assert sizes == [4, 4, 2]
    assert len(_read(tmp_path / "codes.csv")[1]) == 10
    assert GiftCardBatch.objects.get().status == GiftCardBatch.Status.ISSUED


# --- bad arguments (in-process) ---------------------------------------------------------------

GOOD = {"--count": "3", "--amount": "25.00", "--region": "US"}
BAD_ARGUMENTS = {
    "count-zero": {"--count": "0"},
    "count-negative": {"--count": "-5"},
    "count-text": {"--count": "abc"},
    "count-fraction": {"--count": "1.5"},
    "amount-zero": {"--amount": "0"},
    "amount-negative": {"--amount": "-1"},
    "amount-too-many-digits-usd": {"--amount": "25.001"},
    "amount-fraction-jpy": {"--amount": "10.5", "--region": "JP"},
    "amount-text": {"--amount": "abc"},
    "region-unknown": {"--region": "XX"},
    "region-empty": {"--region": ""},
    "expiry-past": {"--expires": "YESTERDAY"},
    "expiry-month-13": {"--expires": "2027-13-01"},
    "expiry-two-digit-year": {"--expires": "27-01-01"},
}


def _argv(overrides: dict[str, str]) -> list[str]:
    options = {**GOOD, **overrides}
    argv = []
    for option, value in options.items():
        argv += [option, _yesterday() if value == "YESTERDAY" else value]
    return argv


@pytest.mark.parametrize("overrides", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_bad_argument_is_refused_with_one_line_and_nothing_written(tmp_path, overrides):
    output = tmp_path / "codes.csv"
    before = ledger_state()

    with pytest.raises(CommandError) as refusal:
        _issue(output, *_argv(overrides))

    message = str(refusal.value)
    assert message.strip()
    assert "\n" not in message
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []
    assert GiftCard.objects.count() == 0
    assert GiftCardBatch.objects.count() == 0
    assert ledger_state() == before


def test_an_existing_output_file_is_refused_and_left_untouched(tmp_path):
    output = tmp_path / "codes.csv"
    output.write_text("precious,data\n", encoding="utf-8")
    output.chmod(0o644)
    before = output.stat()

    with pytest.raises(CommandError, match="already exists"):
        _issue(output, *_argv({}))

    after = output.stat()
    assert output.read_text(encoding="utf-8") == "precious,data\n"
    assert (after.st_mtime_ns, after.st_size, stat.S_IMODE(after.st_mode)) == (
        before.st_mtime_ns,
        before.st_size,
        0o644,
    )
    assert GiftCard.objects.count() == GiftCardBatch.objects.count() == 0


def test_a_missing_output_folder_is_refused(tmp_path):
    output = tmp_path / "nowhere" / "codes.csv"

    with pytest.raises(CommandError, match="does not exist"):
        _issue(output, *_argv({}))

    assert not output.parent.exists()
    assert GiftCard.objects.count() == GiftCardBatch.objects.count() == 0


@pytest.mark.parametrize("missing", ["--count", "--amount", "--region"])
def test_a_missing_required_argument_is_a_command_error(tmp_path, missing):
    output = tmp_path / "codes.csv"
    argv = [part for option, value in GOOD.items() if option != missing for part in (option, value)]

    with pytest.raises(CommandError, match=missing):
        _issue(output, *argv)

    assert not output.exists()
    assert GiftCard.objects.count() == GiftCardBatch.objects.count() == 0


def test_a_missing_output_is_a_command_error():
    with pytest.raises(CommandError, match="--output"):
        call_command("issue_giftcards", *_argv({}), stdout=io.StringIO(), stderr=io.StringIO())
    assert GiftCardBatch.objects.count() == 0


# --- interrupted runs (in-process) ------------------------------------------------------------


@pytest.fixture
def generated_codes(monkeypatch):
    """Every code sent to the database, in order (the file is gone after a failure): the
    codes are made in a producer process, so they are read back from each chunk's file rows
    as the chunk is inserted."""
    codes: list[str] = []
    real = services.giftcards_bulk_insert

    def recording(rows, **batch_values):
        codes.extend(code_normalize(line.split(",")[0]) for line in rows.text.splitlines())
        return real(rows, **batch_values)

    monkeypatch.setattr(services, "giftcards_bulk_insert", recording)
    return codes


def _fail_on_call(number: int, error: BaseException, real=None):
    calls = []

    def wrapper(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise error
        return real(*args, **kwargs) if real else None

    return wrapper


def _database_gone(monkeypatch, output):
    monkeypatch.setattr(
        services,
        "giftcards_bulk_insert",
        _fail_on_call(2, OperationalError("database is gone"), services.giftcards_bulk_insert),
    )


def _writer_fails(error):
    def patch(monkeypatch, output):
        monkeypatch.setattr(
            command_module,
            "code_file_append",
            _fail_on_call(2, error, command_module.code_file_append),
        )

    return patch


def _last_fsync_fails(monkeypatch, output):
    """The disk fills up as the complete file (header and 10 rows) is flushed to it."""
    real = os.fsync

    def fsync(fd):
        if output.read_text(encoding="utf-8").count("\n") == 11:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


INTERRUPTIONS = {
    "database-gone-on-2nd-chunk": (_database_gone, "database is gone"),
    "disk-full-on-2nd-chunk": (
        _writer_fails(OSError(errno.ENOSPC, "No space left on device")),
        "No space left",
    ),
    "ctrl-c-on-2nd-chunk": (_writer_fails(KeyboardInterrupt()), "interrupted"),
    "disk-full-at-the-final-flush": (_last_fsync_fails, "No space left"),
}


@pytest.mark.parametrize(("interrupt", "reason"), INTERRUPTIONS.values(), ids=INTERRUPTIONS.keys())
def test_an_interrupted_run_leaves_no_redeemable_card_and_no_file(
    tmp_path, monkeypatch, generated_codes, interrupt, reason
):
    small_chunks(monkeypatch, 3)
    output = tmp_path / "codes.csv"
    interrupt(monkeypatch, output)

    with pytest.raises(CommandError) as refusal:
        _issue(output, "--count", "10", "--amount", "25.00", "--region", "US")

    message = str(refusal.value)
    assert "\n" not in message
    assert reason in message
    assert "none of its cards can be redeemed" in message
    assert not output.exists()
    batch = GiftCardBatch.objects.get()
    assert batch.status == GiftCardBatch.Status.FAILED
    assert batch.failure
    written = GiftCard.objects.filter(batch=batch).count()
    assert written >= 3  # at least the first chunk reached the database
    shopper = UserFactory(region_id="US")
    in_database = set(GiftCard.objects.values_list("code_hash", flat=True))
    stored = [code for code in generated_codes if code_hash(code) in in_database]
    assert len(stored) == written
    assert {redeem_outcome(shopper, code) for code in stored} == {"disabled"}
    # No value was ever posted for the batch, and the ledger reconciles.
    assert not Transfer.objects.exists()
    assert _balance(Account.Kind.GIFTCARDS_OUTSTANDING, "USD") == 0
    assert ledger_reconcile().clean
    assert not Account.objects.filter(user=shopper).exclude(balance=0).exists()


def test_a_batch_left_issuing_by_a_killed_run_is_reported_and_failed_on_the_next_run(tmp_path):
    us = Region.objects.get(code="US")
    killed = giftcard_batch_create(name="killed-run", region=us, count=6, amount=500)
    chunks = giftcard_batch_issue(batch=killed, chunk_size=3)
    first = next(chunks)  # three cards are in the database; then the process "dies"
    GiftCardBatch.objects.filter(pk=killed.pk).update(
        heartbeat_at=timezone.now() - datetime.timedelta(minutes=30)
    )
    running = giftcard_batch_create(name="still-running", region=us, count=6, amount=500)
    shopper = UserFactory(region_id="US")
    # Even before anyone notices, the cards of a batch that is not issued are refused.
    assert redeem_outcome(shopper, first.codes[0]) == "disabled"

    out, err = _issue(tmp_path / "codes.csv", "--count", "2", "--amount", "5", "--region", "US")

    assert err.count("\n") == 1
    assert f"'killed-run' (#{killed.pk}) was interrupted" in err
    assert "still-running" not in err
    killed.refresh_from_db()
    assert killed.status == GiftCardBatch.Status.FAILED
    assert "interrupted" in killed.failure
    running.refresh_from_db()
    assert running.status == GiftCardBatch.Status.ISSUING  # a live run is left alone
    assert {redeem_outcome(shopper, code) for code in first.codes} == {"disabled"}
    assert out.count("\n") == 1
    # Reported once: the next run has nothing to say.
    _, err_again = _issue(tmp_path / "more.csv", "--count", "1", "--amount", "5", "--region", "US")
    assert err_again == ""
    chunks.close()
    killed.refresh_from_db()
    assert killed.status == GiftCardBatch.Status.FAILED
