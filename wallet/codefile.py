"""The claim-code CSV file (docs/interface.md §8): the one place full codes are ever written after
issue.

Header `code,amount,currency,region,expires_at,batch`; amounts in major units as text; the
file is created exclusively (an existing file is refused) with mode 0600.
"""

import csv
import io
import os
from pathlib import Path

from catalog.money import to_major_text
from wallet.codes import code_display

HEADER = ["code", "amount", "currency", "region", "expires_at", "batch"]


def code_file_open(path: Path | str):
    """Create `path` for writing codes: refuses an existing file, readable by its owner only.

    Raises `FileExistsError` when the file is already there.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fchmod(fd, 0o600)  # whatever the umask says
    return os.fdopen(fd, "w", newline="", encoding="utf-8")


def code_rows(
    codes: list[str], *, amount: int, currency: str, region: str, expires_on, batch: str
) -> list[list[str]]:
    """CSV rows for freshly issued codes that share amount, region, expiry and batch."""
    amount_text = to_major_text(amount, currency=currency)
    expires_text = expires_on.isoformat() if expires_on else ""
    return [[code_display(c), amount_text, currency, region, expires_text, batch] for c in codes]


def code_row_tail(*, amount: int, currency: str, region: str, expires_on, batch: str) -> str:
    """What follows the code in each row of a batch's file, its line end included: the same
    text `csv.writer` writes (the batch name quoted when it needs to be), made once so that a
    million rows are each a code and this tail (`wallet/code_producer.py`)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(
        code_rows(["-"], amount=amount, currency=currency, region=region,
                  expires_on=expires_on, batch=batch)[0][1:]
    )  # fmt: skip
    return "," + buffer.getvalue()


def code_file_append(handle, text: str) -> None:
    """Write rows to the file and make sure they are on disk before returning: a batch turns
    redeemable only after its last rows are safely written."""
    handle.write(text)
    handle.flush()
    os.fsync(handle.fileno())


def code_file_writer(handle):
    writer = csv.writer(handle)
    writer.writerow(HEADER)
    return writer


def code_file_read(path: Path | str) -> list[dict[str, str]]:
    """The rows of an existing code file as dictionaries keyed by the header."""
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))
