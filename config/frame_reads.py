"""What every page's frame (base.html's navigation bar) reads from the database, sent with a
page's own statements: one round trip for both.

A context processor reads its variable lazily, with a query of its own, on any page that shows
it (the cart count, checkout/context_processors.py). A page that sends its reads together
(`config.prepared.sent_together`: the wallet page, wallet/overview_reads.py) sends these with
them and puts the values in its context, which the template prefers to the processor's: the
page needs no trip of its own for its navigation bar (issue 13, bench/http_load.py). An app
registers its read here (in its AppConfig.ready), so that a page of an app below it (the wallet
below checkout) can send it without knowing it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FrameRead:
    name: str  # the template variable
    # The statement for this request ((sql, params)), or None when it needs none (a visitor,
    # whose value the context processor has without the database).
    statement: Callable[[object], tuple[str, Sequence] | None]
    value: Callable[[list[tuple]], object]  # the variable from the statement's rows


_reads: dict[str, FrameRead] = {}


def frame_read_register(read: FrameRead) -> None:
    _reads[read.name] = read


@dataclass(frozen=True)
class FrameReads:
    """This request's frame statements (`statements`, to send with the page's) and the context
    they make (`context`, given the rows of each, in order)."""

    reads: tuple[FrameRead, ...]
    statements: tuple[tuple[str, Sequence], ...]

    def context(self, rows: Sequence[list[tuple]]) -> dict:
        return {read.name: read.value(found) for read, found in zip(self.reads, rows, strict=True)}


def frame_reads(request) -> FrameReads:
    reads, statements = [], []
    for read in _reads.values():
        statement = read.statement(request)
        if statement is not None:
            reads.append(read)
            statements.append(statement)
    return FrameReads(reads=tuple(reads), statements=tuple(statements))
