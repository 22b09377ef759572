from catalog.money import to_major_text
from config.commands import ShopCommand
from wallet.services import wallet_expire_credit


class Command(ShopCommand):
    help = (
        "Post the remainder of every promotional credit lot whose last day is over (in its "
        "shopper's region) to the breakage account. Idempotent: a second run finds nothing. "
        "One summary line, exit 0."
    )

    def handle(self, *args, **options):
        result = wallet_expire_credit()
        if not result.lots:
            self.stdout.write("No promotional credit to expire.")
            return
        totals = ", ".join(
            f"{to_major_text(amount, currency=currency)} {currency}"
            for currency, amount in sorted(result.amounts.items())
        )
        plural = "lot" if result.lots == 1 else "lots"
        self.stdout.write(f"Expired promotional credit: {result.lots} {plural}, {totals}.")
