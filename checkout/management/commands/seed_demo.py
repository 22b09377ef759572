from pathlib import Path

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.module_loading import import_string

from config.commands import ShopCommand
from promotions.demo import demo_promotions_load
from wallet.demo import demo_seed


class Command(ShopCommand):
    help = (
        "Load the demo data: the demo shopper and admin, the catalog, the demo promotions, and "
        "unredeemed demo gift card codes per region written to var/demo-codes.csv (never "
        "printed). Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--code-file",
            default=str(Path(settings.BASE_DIR) / "var" / "demo-codes.csv"),
            help="where to keep the demo codes (default: var/demo-codes.csv)",
        )

    def execute(self, *args, **options):
        # The demo users have published passwords (one a superuser): never on a production
        # database. `make run` sets DEBUG=true (docs/interface.md §4, §9). Refused here, before
        # the system checks open the database, so a refusal touches nothing at all.
        if not settings.DEBUG:
            raise CommandError(
                "seed_demo refused: DEBUG is off, and the demo users' passwords are public."
            )
        return super().execute(*args, **options)

    def handle(self, *args, code_file, **options):
        # Here, in checkout, because it may import every app; the wallet may not import
        # promotions.
        result = demo_seed(code_file=Path(code_file))
        promotions = demo_promotions_load()
        # The apps checkout may not import (subscriptions) seed theirs last, through the
        # DEMO_SEEDERS setting; each says what it created, in the same one line.
        more = "".join(f", {import_string(path)()}" for path in settings.DEMO_SEEDERS)
        self.stdout.write(
            f"Demo data ready: {result.users_created} user(s) and "
            f"{result.products_created} product(s) created, "
            f"{result.codes_kept} demo code(s) kept, {result.codes_issued} issued, "
            f"{promotions} demo promotion(s) created{more}; codes are in {result.code_file}."
        )
