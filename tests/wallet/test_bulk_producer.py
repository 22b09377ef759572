"""The code producer of a bulk issue (wallet/code_producer.py, docs/interface.md §8): the codes
it makes, and what happens when it fails or is killed half-way."""

import io
import json
import multiprocessing
import os
import signal
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import OperationalError

import wallet.services.batches as services
from tests.accounts.factories import UserFactory
from tests.wallet.staff import redeem_outcome
from wallet import bulk_insert, code_producer
from wallet.code_producer import CodeProducer, CodeProducerFailed, code_chunk_make
from wallet.codes import code_hash, code_normalize, codes_hash
from wallet.models import GiftCard, GiftCardBatch, Transfer
from wallet.reconcile import ledger_reconcile

TAIL = ",25.00,USD,US,,spring\r\n"
ROW_TAIL = "\t2500\tUSD\tUS\tactive\t\t\\N\t7\t2026-12-02T00:00:00+00:00\n"


def _options(vendor: str) -> dict:
    from django.conf import settings

    return {
        "key": settings.CODE_PEPPER.encode(),
        "vendor": vendor,
        "file_tail": TAIL,
        "row_tail": ROW_TAIL,
    }


def _file_codes(text: str) -> list[str]:
    assert text.endswith("\r\n")
    lines = text.split("\r\n")[:-1]
    assert all(line.endswith(TAIL[:-2]) for line in lines)
    return [line.split(",")[0] for line in lines]


@pytest.mark.parametrize("vendor", ["sqlite", "postgresql"])
def test_a_chunk_holds_unique_valid_codes_and_only_their_keyed_hashes(vendor):
    chunk = code_chunk_make(2000, **_options(vendor))

    displayed = _file_codes(chunk.text)
    codes = [code_normalize(code) for code in displayed]  # raises on a bad check symbol
    assert len(chunk) == chunk.count == len(set(codes)) == 2000
    assert all(len(code) == 15 for code in codes)
    expected = sorted((code_hash(code), code[-4:]) for code in codes)
    if vendor == "postgresql":
        lines = chunk.rows.splitlines(keepends=True)
        rows = sorted((line[:64], line[65:69]) for line in lines)
        assert all(line[64] == "\t" and line[69:] == ROW_TAIL for line in lines)
    else:
        items = json.loads(chunk.rows)
        assert items == sorted(items)  # the unique index's order
        rows = [(item[:64], item[64:]) for item in items]
    assert rows == expected
    # The database's rows hold no code, only hashes and last four symbols.
    assert not any(code in chunk.rows for code in codes)


def test_the_producer_sends_every_chunk_in_order_then_stops():
    with CodeProducer(count=2500, chunk_size=1000, **_options("sqlite")) as producer:
        sizes = [chunk.count for chunk in producer]
        process = producer._process
    assert sizes == [1000, 1000, 500]
    assert not process.is_alive()


def test_a_failure_in_the_producer_is_sent_as_one_line(monkeypatch):
    def broken(count, **options):
        raise MemoryError("no room for the codes")

    monkeypatch.setattr(code_producer, "code_chunk_make", broken)
    receiver, sender = multiprocessing.Pipe(duplex=False)

    code_producer._produce(sender, None, 10, 5, _options("sqlite"))

    assert receiver.recv() == "code generation failed: MemoryError: no room for the codes"


def test_a_killed_producer_is_an_error_not_a_short_batch():
    producer = CodeProducer(count=30_000, chunk_size=10_000, **_options("sqlite"))
    chunks = iter(producer)
    next(chunks)
    os.kill(producer._process.pid, signal.SIGKILL)

    with pytest.raises(CodeProducerFailed, match="code generator stopped"):
        list(chunks)
    producer.close()


@pytest.mark.django_db
def test_a_producer_killed_mid_issue_fails_the_batch_and_removes_the_file(tmp_path, monkeypatch):
    """The producer dies after the first chunk is in the database: the command stops with one
    line, the file is gone, no card of the batch redeems and no value was posted."""
    inserted: list[str] = []
    real_insert = services.giftcards_bulk_insert

    def insert_then_kill_the_producer(rows, **batch_values):
        real_insert(rows, **batch_values)
        inserted.extend(code_normalize(line.split(",")[0]) for line in rows.text.splitlines())
        for child in multiprocessing.active_children():
            os.kill(child.pid, signal.SIGKILL)

    monkeypatch.setattr(services, "giftcards_bulk_insert", insert_then_kill_the_producer)
    # Chunks bigger than a pipe's buffer: the producer cannot have sent them all already.
    monkeypatch.setattr(services, "PRODUCER_CHUNK_SIZE", 3_000)
    output = tmp_path / "codes.csv"

    with pytest.raises(CommandError) as refusal:
        call_command(
            "issue_giftcards", "--count", "12000", "--amount", "5", "--region", "US",
            "--output", str(output), stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip

    message = str(refusal.value)
    assert "\n" not in message
    assert "code generator stopped" in message
    assert "none of its cards can be redeemed" in message
    assert not output.exists()
    assert list(tmp_path.iterdir()) == []
    batch = GiftCardBatch.objects.get()
    assert batch.status == GiftCardBatch.Status.FAILED
    assert 3_000 <= GiftCard.objects.filter(batch=batch).count() < 12_000
    shopper = UserFactory(region_id="US")
    assert {redeem_outcome(shopper, code) for code in inserted[:5] + inserted[-5:]} == {"disabled"}
    assert not Transfer.objects.exists()
    assert ledger_reconcile().clean
    assert multiprocessing.active_children() == []


@pytest.mark.parametrize("pepper", ["short", "p" * 64, "a much longer pepper " * 5])
def test_hashing_many_codes_at_once_gives_each_code_hash(settings, pepper):
    settings.CODE_PEPPER = pepper
    codes = [
        code_normalize(code) for code in _file_codes(code_chunk_make(50, **_options("sqlite")).text)
    ]

    assert codes_hash(codes) == [code_hash(code) for code in codes]
    assert codes_hash(codes, key=b"other") != codes_hash(codes)


# --- PostgreSQL: every other chunk on a second connection ---------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_postgres_inserts_every_other_chunk_on_a_second_connection(tmp_path, monkeypatch):
    monkeypatch.setattr(services, "PARALLEL_INSERT_MIN_CARDS", 1)
    monkeypatch.setattr(services, "PRODUCER_CHUNK_SIZE", 300)
    threads: set[str] = set()
    real = bulk_insert.giftcards_bulk_insert

    def recording(rows, **batch_values):
        threads.add(threading.current_thread().name)
        return real(rows, **batch_values)

    monkeypatch.setattr(bulk_insert, "giftcards_bulk_insert", recording)
    output = tmp_path / "codes.csv"

    call_command(
        "issue_giftcards", "--count", "1000", "--amount", "5", "--region", "US",
        "--output", str(output), stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip

    assert any(name.startswith("giftcard-insert") for name in threads)
    codes = [code_normalize(line.split(",")[0]) for line in output.read_text().splitlines()[1:]]
    assert len(set(codes)) == 1000
    batch = GiftCardBatch.objects.get()
    assert batch.status == GiftCardBatch.Status.ISSUED
    assert set(GiftCard.objects.values_list("code_hash", flat=True)) == set(codes_hash(codes))
    shopper = UserFactory(region_id="US")
    assert {redeem_outcome(shopper, code) for code in codes[:3] + codes[-3:]} == {"redeemed"}
    assert ledger_reconcile().clean


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_postgres_a_failure_on_the_second_connection_fails_the_batch(tmp_path, monkeypatch):
    monkeypatch.setattr(services, "PARALLEL_INSERT_MIN_CARDS", 1)
    monkeypatch.setattr(services, "PRODUCER_CHUNK_SIZE", 300)
    real = bulk_insert.giftcards_bulk_insert

    def failing_in_the_thread(rows, **batch_values):
        if threading.current_thread().name.startswith("giftcard-insert"):
            raise OperationalError("the second connection is gone")
        return real(rows, **batch_values)

    monkeypatch.setattr(bulk_insert, "giftcards_bulk_insert", failing_in_the_thread)
    output = tmp_path / "codes.csv"

    with pytest.raises(CommandError, match="the second connection is gone"):
        call_command(
            "issue_giftcards", "--count", "1000", "--amount", "5", "--region", "US",
            "--output", str(output), stdout=io.StringIO(), stderr=io.StringIO(),
        )  # fmt: skip

    assert not output.exists()
    assert GiftCardBatch.objects.get().status == GiftCardBatch.Status.FAILED
    assert not Transfer.objects.exists()
    assert ledger_reconcile().clean
    assert multiprocessing.active_children() == []
