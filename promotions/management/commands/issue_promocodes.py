import csv
import os
import signal
import sys
import time
from pathlib import Path

from django.core.management.base import CommandError
from django.utils import timezone

from config.commands import ShopCommand
from promotions.models import Promotion
from promotions.services.codes import (
    MAX_CODES,
    promocode_display,
    promocodes_issue,
    promocodes_validate,
)
from wallet.exceptions import WalletError

HEADER = ["code", "promotion", "expires_at"]


class Command(ShopCommand):
    help = (
        "Issue COUNT unique single-use codes of the promotion SLUG and write them to a new CSV "
        "file (mode 0600; the only copy of the codes). Nothing is printed but a one-line summary."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def one_line_error(message):  # argparse would print the usage too
            if not parser.called_from_command_line:  # call_command: an error, not an exit
                raise CommandError(f"Error: {message}")
            sys.stderr.write(f"issue_promocodes: {message}\n")
            sys.exit(2)

        parser.error = one_line_error
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--promotion", required=True, help="the promotion's slug")
        parser.add_argument("--count", required=True, help=f"how many codes (1 to {MAX_CODES:,})")
        parser.add_argument("--output", required=True, help="CSV file to create (must not exist)")
        parser.add_argument("--batch-name", help="a name staff will recognise in the admin")

    def handle(self, *args, **options):
        slug = (options["promotion"] or "").strip().lower()
        promotion = Promotion.objects.filter(slug=slug).first()
        if promotion is None:
            raise CommandError(f"unknown promotion {options['promotion']!r}.")
        count = _count(options["count"])
        try:
            promocodes_validate(promotion=promotion, count=count)
        except WalletError as error:
            raise CommandError(str(error)) from None
        output = Path(options["output"])
        if output.exists() or output.is_symlink():
            raise CommandError(f"{output} already exists; refusing to overwrite it.")
        if not output.parent.is_dir():
            raise CommandError(f"the folder {output.parent} does not exist.")
        partial = _partial(output)
        if partial.exists():
            raise CommandError(
                f"{partial} is left from an interrupted run; look at it, remove it, run again."
            )
        batch = options["batch_name"] or f"{slug}-{timezone.now():%Y%m%d-%H%M%S}"
        self._issue(promotion, count, output, batch)

    def _issue(self, promotion, count, output, batch):
        """The codes are written to a hidden file beside FILE inside the database transaction
        that inserts them; the transaction commits only once the file is on disk, and only
        then is the file linked to its name. FILE therefore appears whole, and only when its
        codes exist. Interrupted or failing before the commit (Ctrl-C, `kill`, a full disk),
        the rows roll back and the hidden file is removed: nothing claims a code that does not
        exist. Only a `kill -9` can leave the hidden `.FILE.partial` behind (never FILE); its
        codes redeem only if the commit had happened."""
        started = time.perf_counter()
        partial = _partial(output)
        expires = promotion.ends_on.isoformat() if promotion.ends_on else ""

        def deliver(codes):
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.fchmod(fd, 0o600)  # whatever the umask says
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(HEADER)
                writer.writerows([promocode_display(c), promotion.slug, expires] for c in codes)
                handle.flush()
                os.fsync(handle.fileno())

        previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        try:
            promocodes_issue(promotion=promotion, count=count, batch=batch, deliver=deliver)
        except (Exception, KeyboardInterrupt) as error:
            partial.unlink(missing_ok=True)
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
            raise CommandError(
                f"issue stopped ({reason}); no code was created and no file was written."
            ) from None
        finally:
            signal.signal(signal.SIGTERM, previous)
        try:
            os.link(partial, output)  # never replaces a file that appeared meanwhile
        except OSError as error:
            raise CommandError(
                f"the {count:,} codes were created but {output} could not be written "
                f"({error.strerror}); they are in {partial}."
            ) from None
        partial.unlink()
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Issued {count:,} codes of promotion {promotion.slug!r} (batch {batch!r}) to "
            f"{output} in {elapsed:.1f} s."
        )


def _partial(output: Path) -> Path:
    return output.with_name(f".{output.name}.partial")


def _count(text: str) -> int:
    text = (text or "").strip().replace("_", "")
    if not text or any(c not in "0123456789" for c in text) or int(text) <= 0:
        raise CommandError(f"--count must be a whole number above zero, not {text!r}.")
    if int(text) > MAX_CODES:
        raise CommandError(f"--count above {MAX_CODES:,} is refused; split the campaign.")
    return int(text)


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt
