"""The redemption's fixed SQL (wallet/statements.py, the lock statements of wallet/locks.py)
agrees with the ORM it replaces: the same rows written, the same rows and values read, the same
lock clause. Runs on SQLite and, in the PostgreSQL stage, on PostgreSQL."""

import datetime
from unittest import mock

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Subquery
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.prepared import sent_together
from tests.accounts.factories import UserFactory
from tests.wallet.factories import issue_card
from wallet import statements
from wallet.codes import code_hash, code_normalize
from wallet.locks import (
    giftcard_select_for_update_by_hash,
    redemption_rows_select_for_update,
    user_region_select_for_update,
    wallet_account_select_for_update,
)
from wallet.models import Account, GiftCard, GiftCardBatch, Posting, Transfer
from wallet.services import system_account_get_or_create, wallet_account_get_or_create

pytestmark = pytest.mark.django_db


# The querysets the fixed SQL of wallet/locks.py stands for (what the ORM would lock and read).


def giftcard_qs_select_for_update(*, code_hash: str):
    return (
        GiftCard.objects.select_for_update(of=("self",))
        .select_related("batch", "region")
        .filter(code_hash=code_hash)
    )


def wallet_account_qs_select_for_update(*, user_id: int, currency: str, shop_kind: str):
    shop = Account.objects.filter(kind=shop_kind, user=None, currency=currency).values("pk")[:1]
    return (
        Account.objects.select_for_update(no_key=True, of=("self",))
        .filter(kind=Account.Kind.CUSTOMER, user_id=user_id, currency=currency)
        .annotate(shop_account_id=Subquery(shop))
    )


TRANSFER_COLUMNS = ("kind", "description", "created_at", "created_by_id", "reference")
POSTING_COLUMNS = ("account_id", "currency", "amount", "balance_after")
OUTSTANDING = Account.Kind.GIFTCARDS_OUTSTANDING


def _accounts(user):
    return (
        wallet_account_get_or_create(user=user, currency="USD"),
        system_account_get_or_create(kind=OUTSTANDING, currency="USD"),
    )


def _write(*, key, created_at, created_by, shop, shopper, raw) -> Transfer:
    """One transfer of two postings, through the fixed SQL (raw True: statement by statement;
    "together": the three statements sent together) or through the ORM (raw False)."""
    fields = {
        "idempotency_key": key,
        "kind": Transfer.Kind.GIFTCARD_REDEEM,
        "description": "Gift card …ABCD redeemed",
        "created_by": created_by,
        "reference": "order:CP-1",
    }
    legs = [(shop, -250, None), (shopper, 250, 250)]
    if raw == "together":
        transfer = Transfer(created_at=created_at, **fields)
        postings = [
            Posting(account_id=a.pk, currency="USD", amount=n, balance_after=b) for a, n, b in legs
        ]
        shopper.balance = 250
        statements.transfer_with_postings_insert(
            transfer=transfer, postings=postings, account=shopper
        )
        assert Account.objects.get(pk=shopper.pk).balance == 250
        assert all(p.transfer_id == transfer.pk for p in postings)
    elif raw:
        transfer = Transfer(created_at=created_at, **fields)
        statements.transfer_insert(transfer=transfer)
        postings = [
            Posting(transfer=transfer, account_id=a.pk, currency="USD", amount=n, balance_after=b)
            for a, n, b in legs
        ]
        statements.postings_insert(postings=postings)
    else:
        # auto_now_add stamps the ORM's row; the table refuses an UPDATE (append-only).
        with mock.patch("django.utils.timezone.now", return_value=created_at):
            transfer = Transfer.objects.create(**fields)
        postings = Posting.objects.bulk_create(
            Posting(transfer=transfer, account_id=a.pk, currency="USD", amount=n, balance_after=b)
            for a, n, b in legs
        )
    # Each object got the id of its own row.
    stored = Posting.objects.filter(transfer=transfer).order_by("pk")
    assert [(p.pk, p.account_id, p.amount) for p in postings] == list(
        stored.values_list("pk", "account_id", "amount")
    )
    return transfer


def test_the_transfer_and_postings_inserts_write_what_the_orm_writes():
    staff, shopper_user = UserFactory(), UserFactory()
    shopper, shop = _accounts(shopper_user)
    at = timezone.now().replace(microsecond=123456)
    rows = []
    for raw in (True, "together", False):
        transfer = _write(
            key=f"k-{raw}", created_at=at, created_by=staff, shop=shop, shopper=shopper, raw=raw
        )
        assert transfer.pk is not None
        assert not transfer._state.adding
        stored = Transfer.objects.values(*TRANSFER_COLUMNS).get(pk=transfer.pk)
        postings = list(
            Posting.objects.filter(transfer=transfer).order_by("pk").values(*POSTING_COLUMNS)
        )
        rows.append((stored, postings))
    assert rows[0] == rows[1] == rows[2]
    assert rows[0][0]["created_at"] == at


def test_sent_together_a_refused_statement_is_a_django_error_and_the_ones_before_it_stay_undone():
    # Statements sent together run in order in the caller's transaction: the lock before the
    # refused INSERT is rolled back with it, and the error is Django's, as for any query.
    staff, shopper_user = UserFactory(), UserFactory()
    shopper, shop = _accounts(shopper_user)
    at = timezone.now()
    _write(key="taken", created_at=at, created_by=staff, shop=shop, shopper=shopper, raw=True)
    card = issue_card().card
    count = Transfer.objects.count(), Posting.objects.count()
    card.status, card.redeemed_by, card.redeemed_at = GiftCard.Status.REDEEMED, shopper_user, at
    card_sql, card_params = statements.giftcard_redeemed_statement(card=card)
    again = Transfer(created_at=at, idempotency_key="taken", kind=Transfer.Kind.GIFTCARD_REDEEM)
    insert = (
        statements._sql(connection.vendor, "transfer_insert"),
        statements._transfer_params(again),
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        sent_together((f"{card_sql} RETURNING id", card_params), insert)
    assert (Transfer.objects.count(), Posting.objects.count()) == count
    assert GiftCard.objects.get(pk=card.pk).status == GiftCard.Status.ACTIVE


def test_the_balance_and_card_updates_write_what_the_orm_writes():
    user = UserFactory()
    shopper, _ = _accounts(user)
    shopper.balance = 1234
    statements.balance_update(account=shopper)
    assert Account.objects.get(pk=shopper.pk).balance == 1234

    at = timezone.now().replace(microsecond=654321)
    cards = [issue_card().card, issue_card().card]
    for card in cards:
        card.status, card.redeemed_by, card.redeemed_at = GiftCard.Status.REDEEMED, user, at
    statements.giftcard_redeemed_update(card=cards[0])
    cards[1].save(update_fields=["status", "redeemed_by", "redeemed_at"])
    fields = [f.attname for f in GiftCard._meta.concrete_fields if f.attname not in ("id",)]
    fields.remove("code_hash")
    fields.remove("last4")
    fields.remove("created_at")
    stored = [GiftCard.objects.values(*fields).get(pk=card.pk) for card in cards]
    assert stored[0] == stored[1]
    assert stored[0]["redeemed_at"] == at


def _same_model(one, other) -> None:
    assert type(one) is type(other)
    for field in type(one)._meta.concrete_fields:
        if field.attname in one.get_deferred_fields():
            continue
        assert getattr(one, field.attname) == getattr(other, field.attname), field.attname


@pytest.mark.parametrize("in_batch", [False, True])
def test_the_card_lock_reads_what_the_queryset_reads(in_batch):
    staff = UserFactory()
    batch = None
    if in_batch:
        batch = GiftCardBatch.objects.create(
            name="b",
            region_id="DE",
            currency="EUR",
            status=GiftCardBatch.Status.ISSUED,
            created_by=staff,
        )
    code = issue_card(region="DE", batch=batch, expires_on=datetime.date(2999, 12, 31)).code
    digest = code_hash(code_normalize(code))
    with transaction.atomic():
        raw = giftcard_select_for_update_by_hash(code_hash=digest)
        orm = giftcard_qs_select_for_update(code_hash=digest).first()
        assert giftcard_select_for_update_by_hash(code_hash="0" * 64) is None
    _same_model(raw, orm)
    assert isinstance(raw.expires_on, datetime.date)
    assert isinstance(raw.created_at, datetime.datetime)
    assert raw.created_at.tzinfo is not None
    _same_model(raw.region, orm.region)
    if in_batch:
        _same_model(raw.batch, orm.batch)
        assert raw.batch.created_by_id == staff.pk
    else:
        assert raw.batch is None


def test_the_three_locks_sent_together_read_what_each_reads_alone():
    user = UserFactory(region_id="DE")
    wallet_account_get_or_create(user=user, currency="EUR")
    system_account_get_or_create(kind=OUTSTANDING, currency="EUR")
    digest = code_hash(code_normalize(issue_card(region="DE").code))
    args = {"user_id": user.pk, "currency": "EUR", "shop_kind": OUTSTANDING}
    with transaction.atomic(), CaptureQueriesContext(connection) as queries:
        region, card, account = redemption_rows_select_for_update(code_hash=digest, **args)
    # One query string on PostgreSQL (one trip, in this order), each in turn elsewhere.
    assert len(queries.captured_queries) == (1 if connection.vendor == "postgresql" else 3)
    with transaction.atomic():
        assert region == user_region_select_for_update(user_id=user.pk) == "DE"
        _same_model(card, giftcard_select_for_update_by_hash(code_hash=digest))
        alone = wallet_account_select_for_update(**args)
    _same_model(account, alone)
    assert account.shop_account_id == alone.shop_account_id is not None
    with transaction.atomic():
        nothing = redemption_rows_select_for_update(
            code_hash="0" * 64, **{**args, "user_id": user.pk + 1000}
        )
    assert nothing == (None, None, None)


def test_the_account_lock_reads_what_the_queryset_reads():
    user = UserFactory()
    args = {"user_id": user.pk, "currency": "USD", "shop_kind": OUTSTANDING}
    with transaction.atomic():
        assert wallet_account_select_for_update(**args) is None
    wallet_account_get_or_create(user=user, currency="USD")
    with transaction.atomic():
        assert wallet_account_select_for_update(**args).shop_account_id is None
    _accounts(user)
    with transaction.atomic():
        raw = wallet_account_select_for_update(**args)
        orm = wallet_account_qs_select_for_update(**args).first()
    _same_model(raw, orm)
    assert raw.shop_account_id == orm.shop_account_id is not None


def test_the_user_lock_reads_the_region():
    user = UserFactory(region_id="GB")
    with transaction.atomic():
        assert user_region_select_for_update(user_id=user.pk) == "GB"
        assert user_region_select_for_update(user_id=user.pk + 1000) is None


def _lock_clause(sql: str) -> str:
    # A prepared statement is logged as Django logs server-side binding: "'SQL' - PARAMS = (…)".
    sql = sql.split("' - PARAMS = ")[0]
    return sql[sql.index(" FOR ") :] if " FOR " in sql else ""


def _prepared_text(sql: str) -> str:
    """The statement an `EXECUTE name(…)` runs (config/prepared.py), as PREPAREd; other SQL as
    it is."""
    if not sql.startswith("EXECUTE "):
        return sql
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT statement FROM pg_prepared_statements WHERE name = %s",
            [sql.split()[1].split("(")[0]],
        )
        return cursor.fetchone()[0]


@pytest.mark.postgres
def test_the_lock_statements_take_the_querysets_locks_on_postgresql():
    """The same lock clause as the querysets' (FOR [NO KEY] UPDATE OF the locked table)."""
    assert connection.vendor == "postgresql"
    from accounts.locks import user_qs_select_for_update

    user = UserFactory()
    _accounts(user)
    code = issue_card().code
    digest = code_hash(code_normalize(code))
    args = {"user_id": user.pk, "currency": "USD", "shop_kind": OUTSTANDING}
    pairs = [
        (
            lambda: user_region_select_for_update(user_id=user.pk),
            lambda: user_qs_select_for_update(user_id=user.pk).get(),
        ),
        (
            lambda: giftcard_select_for_update_by_hash(code_hash=digest),
            lambda: giftcard_qs_select_for_update(code_hash=digest).first(),
        ),
        (
            lambda: wallet_account_select_for_update(**args),
            lambda: wallet_account_qs_select_for_update(**args).first(),
        ),
    ]
    for raw, orm in pairs:
        with transaction.atomic(), CaptureQueriesContext(connection) as queries:
            raw()
            orm()
        clauses = [_lock_clause(_prepared_text(q["sql"])) for q in queries.captured_queries]
        assert clauses[0] == clauses[1] != "", clauses


def test_the_inserts_write_every_column_of_their_models():
    # A column added to Transfer or Posting must be written by the fixed inserts too
    # (docs/ledger.md, "Posting a transfer"), or it would be left to the database's default.
    for model, fields in [
        (Transfer, statements.TRANSFER_FIELDS),
        (Posting, statements.POSTING_FIELDS),
    ]:
        columns = {field.name for field in model._meta.concrete_fields if not field.primary_key}
        assert set(fields) == columns, model.__name__
