"""What the benchmarks measure with (not a benchmark itself: `make bench` runs
bench/[!_]*.py): statements counted by kind and by the project code that sent them, and wall
and CPU seconds (this process's and its PostgreSQL server's)."""

import functools
import os
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class QueryCounter:
    """A `connection.execute_wrapper`: counts every statement by its verb and main table (the
    first FROM / INTO / UPDATE outside parentheses), with FOR UPDATE marked; `trace` also
    counts the innermost frame of the project's code that sent it (slow: a sample only)."""

    def __init__(self, *, trace: bool = False):
        self.total = 0
        self.by_kind: Counter = Counter()
        self.by_code: Counter = Counter()
        self.by_function: Counter = Counter()
        self.trace = trace

    def __call__(self, execute, sql, params, many, context):
        self.total += 1
        self.by_kind[statement_kind(sql)] += 1
        if self.trace:
            where, function = code_location()
            self.by_code[where] += 1
            self.by_function[function] += 1
        return execute(sql, params, many, context)


TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?([\w.]+)"?', re.IGNORECASE)


def statement_kind(sql: str) -> str:
    text = sql.lstrip()
    verb = text.split(None, 1)[0].upper() if text else "?"
    if verb in ("SAVEPOINT", "RELEASE", "ROLLBACK", "BEGIN", "COMMIT"):
        return verb
    table = text.split(None, 2)[1].strip('"') if verb == "UPDATE" else ""
    depth = 0
    for index, char in enumerate(text):
        if table:
            break
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif depth == 0 and char in "FIfi" and text[index - 1 : index].isspace():
            match = TABLE.match(text, index)
            table = match.group(1) if match else ""
    locked = " FOR UPDATE" if "FOR UPDATE" in text[-120:].upper() else ""
    return f"{verb} {table}{locked}".strip()


@functools.cache
def _own_file(filename: str, skip: str) -> str | None:
    """`filename` relative to the project when it is the project's own code outside the
    `skip` folder (not an installed package), else None."""
    path = Path(filename)
    if ROOT not in path.parents or ".venv" in path.parts:
        return None
    where = path.relative_to(ROOT)
    return None if where.parts[0] == skip else str(where)


def code_location(skip: str = "bench") -> tuple[str, str]:
    """The innermost frame of the project's own code (not Django's, not the `skip` folder's:
    this benchmark's, or the tests'): as `path:line function`, and as `path function`.

    Walks the frames themselves: `traceback.extract_stack()` reads every frame's source line,
    and a count of a few thousand statements then spent seconds on it."""
    frame = sys._getframe(1)
    while frame is not None:
        where = _own_file(frame.f_code.co_filename, skip)
        if where is not None:
            name = frame.f_code.co_name
            return f"{where}:{frame.f_lineno} {name}", f"{where} {name}"
        frame = frame.f_back
    return "?", "?"


class Clock:
    """Wall seconds, and CPU seconds of this process and of its PostgreSQL server process (read
    from /proc: the throwaway server runs on this machine). On a busy machine the wall time
    waits for the CPU; the CPU seconds are what the run itself used."""

    def __init__(self, connection):
        self.server_pid = None
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                self.server_pid = cursor.fetchone()[0]

    def _server_cpu(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.server_pid}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def __enter__(self):
        self.started = (time.perf_counter(), time.process_time(), self._server_cpu())
        return self

    def __exit__(self, *exc):
        wall, cpu, server = self.started
        self.wall = time.perf_counter() - wall
        self.cpu = time.process_time() - cpu
        now = self._server_cpu()
        self.server = None if server is None or now is None else now - server

    def __str__(self):
        server = f" + {self.server:.1f} s database server" if self.server is not None else ""
        return f"{self.wall:.1f} s ({self.cpu:.1f} s CPU{server})"
