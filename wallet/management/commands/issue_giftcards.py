import datetime
import signal
import sys
import time
from pathlib import Path

from django.core.management.base import CommandError
from django.utils import timezone
from tqdm import tqdm

from catalog.models import Region
from catalog.money import MoneyError, parse_amount, to_major_text
from config.commands import ShopCommand
from wallet.codefile import code_file_append, code_file_open, code_file_writer, code_row_tail
from wallet.exceptions import WalletError
from wallet.services import (
    giftcard_batch_create,
    giftcard_batch_issue,
    giftcard_batch_validate,
    giftcard_batches_fail_interrupted,
)


class Command(ShopCommand):
    help = (
        "Issue COUNT gift cards of AMOUNT in REGION and write their codes to a new CSV file "
        "(mode 0600; the only copy of the codes). Nothing is printed but a one-line summary."
    )
    # Django's system checks import every URL and admin module first: a third of a second of
    # a run that issues a million cards in about ten (docs/interface.md §8). They belong to a
    # deploy (`manage.py check --deploy`), not to every campaign.
    requires_system_checks = []

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)

        def one_line_error(message):  # argparse would print the usage too
            if not parser.called_from_command_line:  # call_command: an error, not an exit
                raise CommandError(f"Error: {message}")
            sys.stderr.write(f"issue_giftcards: {message}\n")
            sys.exit(2)

        parser.error = one_line_error
        return parser

    def add_arguments(self, parser):
        parser.add_argument("--count", required=True, help="how many cards (1 to 10,000,000)")
        parser.add_argument("--amount", required=True, help="value of each card: 25.00, 1000 (JPY)")
        parser.add_argument("--region", required=True, help="US, GB, FR, DE or JP")
        parser.add_argument("--output", required=True, help="CSV file to create (must not exist)")
        parser.add_argument(
            "--expires",
            help="last day the cards redeem, YYYY-MM-DD, in the region's time zone (US: New "
            "York, JP: Tokyo); it must not be over there already",
        )
        parser.add_argument("--batch-name", help="a name staff will recognise in the admin")

    def handle(self, *args, **options):
        # An unmigrated or unreachable database: one line (config/commands.py).
        region = Region.objects.filter(code=(options["region"] or "").strip().upper()).first()
        if region is None:
            codes = ", ".join(Region.objects.values_list("code", flat=True))
            raise CommandError(f"unknown region {options['region']!r}: use one of {codes}.")
        count = self._count(options["count"])
        try:
            amount = parse_amount(options["amount"], currency=region.currency)
        except MoneyError as error:
            raise CommandError(f"--amount: {error}") from None
        expires_on = self._expires(options["expires"])
        output = Path(options["output"])
        if output.exists():
            raise CommandError(f"{output} already exists; refusing to overwrite it.")
        if not output.parent.is_dir():
            raise CommandError(f"the folder {output.parent} does not exist.")
        try:
            giftcard_batch_validate(
                region=region, count=count, amount=amount, expires_on=expires_on
            )
        except WalletError as error:
            raise CommandError(str(error)) from None

        for stale in giftcard_batches_fail_interrupted():
            self.stderr.write(
                f"Note: batch {stale.name!r} (#{stale.pk}) was interrupted earlier; none of its "
                "cards can be redeemed. It is marked failed."
            )
        try:
            handle = code_file_open(output)
        except FileExistsError:
            raise CommandError(f"{output} already exists; refusing to overwrite it.") from None
        name = options["batch_name"] or f"{region.code}-{timezone.now():%Y%m%d-%H%M%S}"
        self._issue(handle, output, region, count, amount, expires_on, name)

    def _issue(self, handle, output, region, count, amount, expires_on, name):
        started = time.perf_counter()
        batch = giftcard_batch_create(
            name=name, region=region, count=count, amount=amount, expires_on=expires_on
        )
        # A polite `kill` gets the same clean stop as Ctrl-C.
        previous = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        # The codes are made by a second process while this one writes them (both cores).
        file_tail = code_row_tail(
            amount=amount,
            currency=region.currency,
            region=region.code,
            expires_on=expires_on,
            batch=name,
        )
        chunks = giftcard_batch_issue(batch=batch, file_tail=file_tail)
        # No tqdm monitor thread (the bar moves once a chunk anyway): the code producer is
        # forked from a process with no other thread (wallet/code_producer.py).
        tqdm.monitor_interval = 0
        progress = tqdm(
            total=count,
            unit=" cards",
            unit_scale=True,
            disable=not sys.stderr.isatty(),
            file=sys.stderr,
            desc="Issuing",
        )
        try:
            with handle:
                code_file_writer(handle)  # the header
                for chunk in chunks:
                    # On disk before the next chunk is asked for: asking after the last one
                    # is what makes the batch redeemable, so no card can become redeemable
                    # while its code might still be lost (disk full at the end, a crash).
                    code_file_append(handle, chunk.text)
                    progress.update(chunk.count)
        except (Exception, KeyboardInterrupt) as error:
            chunks.close()  # marks the batch failed when it did not finish
            output.unlink(missing_ok=True)
            reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
            raise CommandError(
                f"issue stopped ({reason}); batch {name!r} (#{batch.pk}) is marked failed and "
                f"none of its cards can be redeemed; {output} was removed."
            ) from None
        finally:
            progress.close()
            signal.signal(signal.SIGTERM, previous)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"Issued {count:,} cards of {to_major_text(amount, currency=region.currency)} "
            f"{region.currency} in region {region.code} (batch {name!r}, #{batch.pk}) to "
            f"{output} in {elapsed:.1f} s ({count / elapsed:,.0f} cards/s)."
        )

    @staticmethod
    def _count(text: str) -> int:
        text = (text or "").strip().replace("_", "")
        if not text.isdigit() or int(text) <= 0:
            raise CommandError(f"--count must be a whole number above zero, not {text!r}.")
        return int(text)

    @staticmethod
    def _expires(text: str | None) -> datetime.date | None:
        if text is None:
            return None
        try:
            expires_on = datetime.date.fromisoformat(text.strip())
        except ValueError:
            raise CommandError(f"--expires must be a date like 2027-12-31, not {text!r}.") from None
        if len(text.strip()) != 10:
            raise CommandError(f"--expires must be a date like 2027-12-31, not {text!r}.")
        return expires_on


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt
