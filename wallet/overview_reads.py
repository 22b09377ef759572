"""The wallet page's reads (GET /wallet/): its figures and a page of its activity, in two
statements whatever the shopper's history.

The same reads as `wallet_balance_get`, `unit_balances_get` and a `Paginator` over
`wallet_activity_list` (wallet/selectors.py, wallet/unit_selectors.py), which other pages and
the checkout keep using, written as SQL because this page is the one a shopper reloads most:
building those querysets cost more CPU than running them (issue 13, bench/http_load.py):
- the figures: the money account, the points, pending points and coins accounts, and every
  spendable credit lot, one UNION;
- the page: its postings with their transfers, the shopper's report about each and an
  adjustment's description, and the count of every row (a window over the same rows), so the
  page numbers need no second query; a page number past the end (or below 1) reads the last
  page, as `Paginator.get_page` shows it, in the same statement.

tests/wallet/test_overview_reads.py proves these equal the querysets' answers, row for row.
"""

import datetime
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property

from django.core.paginator import Page, Paginator
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from config.prepared import sent_together
from wallet.credit import CreditLotView
from wallet.models import (
    CUSTOMER_KINDS,
    Account,
    ActivityReport,
    BalanceAdjustment,
    CreditLot,
    Posting,
    Transfer,
)
from wallet.selectors import ActivityRow, Balance, activity_rows
from wallet.unit_selectors import UnitBalances

_UNIT_KINDS = (
    Account.Kind.CUSTOMER_POINTS,
    Account.Kind.CUSTOMER_POINTS_PENDING,
    Account.Kind.CUSTOMER_COINS,
)
# The columns of each model read for a row, in the model's field order (`Model.from_db`).
_POSTING = ("id", "transfer_id", "account_id", "currency", "amount", "balance_after")
_TRANSFER = ("id", "kind", "description", "created_at", "reference")
_ACCOUNT = ("id", "kind", "user_id", "currency")


def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _in(values) -> str:
    return ", ".join(["%s"] * len(values))


# Every name in these statements is a model's table or column (no input): the values are
# parameters.
@cache
def _figures_sql() -> str:
    accounts, lots = _table(Account), _table(CreditLot)
    return (
        f"SELECT kind, balance, NULL, NULL, NULL, NULL FROM {accounts} "  # noqa: S608  # nosec B608
        "WHERE user_id = %s AND ((kind = %s AND currency = %s) "
        f"OR kind IN ({_in(_UNIT_KINDS)})) "
        "UNION ALL SELECT NULL, remaining, id, expires_on, expires_at, category_ids "
        f"FROM {lots} "
        "WHERE user_id = %s AND currency = %s AND remaining > 0 AND expires_at > %s"
    )


@cache
def _rows_from() -> str:
    posting, account, transfer = _table(Posting), _table(Account), _table(Transfer)
    return (
        f"FROM {posting} p JOIN {account} a ON a.id = p.account_id "
        f"JOIN {transfer} t ON t.id = p.transfer_id "
        f"WHERE a.user_id = %s AND a.kind IN ({_in(CUSTOMER_KINDS)}) AND a.currency = %s"
    )


@cache
def _page_sql() -> str:
    reports, adjustments = _table(ActivityReport), _table(BalanceAdjustment)
    own_report = (
        f"FROM {reports} r WHERE r.posting_id = p.id AND r.user_id = %s ORDER BY r.id LIMIT 1"
    )
    columns = [f"p.{name}" for name in _POSTING]
    columns += [f"t.{name}" for name in _TRANSFER[1:]]
    columns += [f"a.{name}" for name in _ACCOUNT[1:]]
    columns += [
        f"(SELECT r.id {own_report})",
        f"(SELECT r.status {own_report})",
        f"(SELECT b.description FROM {adjustments} b WHERE b.transfer_id = p.transfer_id)",  # noqa: S608  # nosec B608
        "COUNT(*) OVER ()",
    ]
    select = ", ".join(columns)
    # The page asked for (%s: its offset) when it has rows, else the last page's offset (none
    # at all: 0), counted over the same rows: one statement either way. The values are cast:
    # prepared (config/prepared.py), a value compared with 0 would be taken for a 32-bit one.
    offset = (
        "SELECT CASE WHEN CAST(%s AS BIGINT) >= 0 AND CAST(%s AS BIGINT) < COUNT(*) "
        "THEN CAST(%s AS BIGINT) WHEN COUNT(*) = 0 THEN 0 "
        f"ELSE ((COUNT(*) - 1) / CAST(%s AS BIGINT)) * CAST(%s AS BIGINT) END {_rows_from()}"
    )
    return f"SELECT {select} {_rows_from()} ORDER BY p.id DESC LIMIT %s OFFSET ({offset})"  # nosec B608


@dataclass(frozen=True)
class WalletOverview:
    """What /wallet/ shows: the balance, the points and coins, one page of activity (`rows`,
    built from `read` on first use)."""

    balance: Balance
    units: UnitBalances
    page: Page
    # The page's rows as read: every value its activity shows, and so a key for it (a page
    # remembered whole, wallet/templatetags/memo.py, builds no row).
    read: tuple[tuple, ...]
    also: list[list[tuple]]  # the rows of each of the `also` statements, in order

    @cached_property
    def rows(self) -> list[ActivityRow]:
        return activity_rows(self.page.object_list)


def _aware(value) -> datetime.datetime | None:
    # PostgreSQL hands back aware datetimes; SQLite text (in a UNION) or naive UTC ones.
    if value is None or (isinstance(value, datetime.datetime) and value.tzinfo is not None):
        return value
    if isinstance(value, str):
        value = parse_datetime(value)
    return timezone.make_aware(value, datetime.UTC) if timezone.is_naive(value) else value


def _date(value) -> datetime.date:
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


def _figures_params(*, user, currency: str) -> list:
    params = [user.pk, Account.Kind.CUSTOMER, currency, *_UNIT_KINDS]
    return [*params, user.pk, currency, timezone.now()]


def _figures(rows, *, currency: str) -> tuple[Balance, UnitBalances]:
    units, cash, lots = {}, 0, []
    for kind, figure, lot_id, expires_on, expires_at, categories in rows:
        if lot_id is not None:
            if isinstance(categories, str):
                categories = json.loads(categories)
            lots.append(
                CreditLotView(
                    id=lot_id,
                    remaining=figure,
                    expires_on=_date(expires_on),
                    category_ids=frozenset(categories or ()),
                    expires_at=_aware(expires_at),
                )
            )
        elif kind == Account.Kind.CUSTOMER:
            cash += figure
        else:
            units[kind] = figure
    lots.sort(key=lambda lot: (lot.expires_on, lot.id))
    credit = sum(lot.remaining for lot in lots)
    balance = Balance(
        amount=cash + credit, currency=currency, money=cash, credit=credit, lots=tuple(lots)
    )
    return balance, UnitBalances(
        points=units.get(Account.Kind.CUSTOMER_POINTS, 0),
        pending=units.get(Account.Kind.CUSTOMER_POINTS_PENDING, 0),
        coins=units.get(Account.Kind.CUSTOMER_COINS, 0),
    )


def _posting(row) -> Posting:
    """A Posting with its transfer and account (the fields the page reads; any other loads on
    access, as a deferred field), and the annotations `wallet_activity_list` gives it."""
    n_posting, n_transfer = len(_POSTING), len(_TRANSFER) - 1
    posting = Posting.from_db("default", _POSTING, row[:n_posting])
    transfer_values = (posting.transfer_id, *row[n_posting : n_posting + n_transfer])
    transfer = Transfer.from_db("default", _TRANSFER, transfer_values)
    transfer.created_at = _aware(transfer.created_at)
    start = n_posting + n_transfer
    account = Account.from_db("default", _ACCOUNT, (posting.account_id, *row[start : start + 3]))
    posting.transfer, posting.account = transfer, account
    posting.report_id, posting.report_status, posting.adjustment_description = row[
        start + 3 : start + 6
    ]
    return posting


# A page number beyond any history is past the end whatever it is: kept small enough for the
# database's 64-bit integers.
_MAX_PAGE = 2**40


def wallet_overview_get(
    *, user, page, page_size: int, also: Sequence[tuple[str, Sequence]] = ()
) -> WalletOverview:
    """The wallet page of `user` (their region read with them), at page number `page` as typed
    (`?page=`): not a whole number is the first page, past the end or below 1 the last, as
    `Paginator.get_page`. Two statements, whatever the page number and the history; and
    `also`'s (sql, params), the page frame's (config/frame_reads.py), sent with them."""
    currency = user.region.currency
    try:
        number = int(page) if page is not None else 1
    except (TypeError, ValueError):
        number = 1
    offset = (max(0, min(number, _MAX_PAGE)) - 1) * page_size  # below 1: negative
    rows_of = [user.pk, *CUSTOMER_KINDS, currency]
    params = [user.pk, user.pk, *rows_of, page_size]
    params += [offset, offset, offset, page_size, page_size, *rows_of]
    # Both statements sent together: one round trip on PostgreSQL (config/prepared.py).
    figures_rows, rows, *also_rows = sent_together(
        (_figures_sql(), _figures_params(user=user, currency=currency)),
        (_page_sql(), params),
        *also,
    )
    balance, units = _figures(figures_rows, currency=currency)
    paginator = Paginator((), page_size)
    paginator.count = rows[0][-1] if rows else 0
    if not 1 <= number <= paginator.num_pages:
        number = paginator.num_pages  # what the statement read: the last page
    read = tuple(rows)
    return WalletOverview(
        balance=balance,
        units=units,
        page=Page(_Postings(read), number, paginator),
        read=read,
        also=also_rows,
    )


class _Postings(Sequence):
    """The page's postings (`_posting`), each built when first read."""

    def __init__(self, read: tuple[tuple, ...]):
        self._read = read

    @cached_property
    def _postings(self) -> list[Posting]:
        return [_posting(row) for row in self._read]

    def __len__(self) -> int:
        return len(self._read)

    def __getitem__(self, index):
        return self._postings[index]
