"""Claim codes made in a second process for a bulk issue (docs/interface.md §8).

Making a code and its keyed hash costs about as much as the database's bulk insert of its row,
so a million-card batch takes half the time when one process makes codes while the other
writes them: the producer process generates each chunk's codes, hashes them and formats both
the file's rows and the database's rows as text; the issuing process only writes them.
Nothing here touches the database, and no code ever goes to stdout or stderr.

The producer ends when its work is done, when the issuing process dies (its pipe breaks) or
when it is told to stop; the issuing process notices a producer that died (killed, out of
memory) as a closed pipe and raises `CodeProducerFailed`.
"""

import contextlib
import json
import multiprocessing
import signal
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from wallet.codes import codes_generate, codes_hash


class CodeProducerFailed(RuntimeError):
    """The producer process stopped before it made every code it was asked for."""


@dataclass(frozen=True)
class CodeChunk:
    """`count` new codes, formatted for the file (`text`) and for the database (`rows`).

    `rows` is PostgreSQL's COPY text (one line per card: hash, last 4, then `row_tail`), or
    for SQLite a JSON array of hash-then-last-4 strings; both sorted by hash (the unique
    index's order). The codes themselves are only in `text`.
    """

    count: int
    text: str
    rows: str

    def __len__(self) -> int:
        return self.count


def code_chunk_make(
    count: int, *, key: bytes, vendor: str, file_tail: str, row_tail: str
) -> CodeChunk:
    """Make `count` codes and their keyed hashes (what the producer does, chunk by chunk).

    A file row is the displayed code then `file_tail` (the rest of the CSV row, its line end
    included); a PostgreSQL row is hash, tab, last 4, then `row_tail`.
    """
    codes = codes_generate(count)
    hashes = codes_hash(codes, key=key)
    text = "".join([f"{c[:4]}-{c[4:10]}-{c[10:]}{file_tail}" for c in codes])
    if vendor == "postgresql":
        # Sorted by hash, as for SQLite: the unique index then takes the chunk's rows in its
        # own order, page after page, which halves the server's work (a line starts with its
        # 64-symbol hash, so sorting the lines sorts the hashes).
        rows = "".join(
            sorted([f"{h}\t{c[11:]}{row_tail}" for h, c in zip(hashes, codes, strict=True)])
        )
    else:
        rows = json.dumps(sorted([h + c[11:] for h, c in zip(hashes, codes, strict=True)]))
    return CodeChunk(count=count, text=text, rows=rows)


def _produce(sender, receiver, count: int, chunk_size: int, options: dict) -> None:
    """The producer process: send every chunk, then close. A failure is sent as one line of
    text (never a traceback on stderr, which the command keeps to one line)."""
    # The child's copy of the reading end: while it is open here, a dead issuing process
    # would leave this one blocked on a full pipe forever instead of failing to send.
    if receiver is not None:
        receiver.close()
    # Ctrl-C reaches the whole process group: the issuing process decides what stops. A
    # forked child inherits the command's SIGTERM handler; being told to stop ends it quietly.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        remaining = count
        while remaining:
            size = min(chunk_size, remaining)
            sender.send(code_chunk_make(size, **options))
            remaining -= size
    except (BrokenPipeError, EOFError):  # the issuing process is gone: nobody to tell
        pass
    except Exception as error:  # reported to the issuing process, which raises
        with contextlib.suppress(OSError):
            sender.send(f"code generation failed: {type(error).__name__}: {error}")
    finally:
        sender.close()


class CodeProducer:
    """A producer process making `count` codes in chunks of `chunk_size`; iterate over it for
    the chunks, in order. Use it as a context manager: leaving it stops the process."""

    def __init__(
        self,
        *,
        count: int,
        chunk_size: int,
        key: bytes,
        vendor: str,
        file_tail: str,
        row_tail: str,
    ):
        self.count = count
        # Forked, the child starts at once with the modules already imported. A fork copies
        # only the calling thread, so a lock held by another thread at that moment stays held
        # in the child (hence Python's warning when there are others, as under a test
        # runner): this child takes none (no logging, no database, no import), it only hashes
        # and writes to its pipe. Where fork is missing, a fresh interpreter does the same.
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        context = multiprocessing.get_context(method)
        self._receiver, sender = context.Pipe(duplex=False)
        options = {"key": key, "vendor": vendor, "file_tail": file_tail, "row_tail": row_tail}
        self._process = context.Process(
            target=_produce,
            args=(sender, self._receiver, count, chunk_size, options),
            daemon=True,
        )
        with warnings.catch_warnings():
            warnings.filterwarnings(
                "ignore", "This process .* is multi-threaded", DeprecationWarning
            )
            self._process.start()
        # Only the child may hold the sending end: when it dies, reading here ends at once.
        sender.close()

    def __iter__(self) -> Iterator[CodeChunk]:
        received = 0
        while received < self.count:
            try:
                chunk = self._receiver.recv()
            except (EOFError, OSError):  # closed, or closed half-way through a chunk
                self._process.join(timeout=5)
                raise CodeProducerFailed(
                    f"the code generator stopped (exit code {self._process.exitcode})"
                ) from None
            if isinstance(chunk, str):
                raise CodeProducerFailed(chunk)
            received += chunk.count
            yield chunk

    def close(self) -> None:
        """Stop the producer if it still runs, and wait for it."""
        self._receiver.close()
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
