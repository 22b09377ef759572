from django.core.management.base import CommandError

from config.commands import ShopCommand
from wallet.reconcile import ledger_reconcile


class Command(ShopCommand):
    help = (
        "Check every cached balance against its ledger postings and that every transfer sums "
        "to zero per currency, and every promotional-credit account against its lots. Exit 0 "
        "with one summary line when clean, 1 with the differences."
    )

    def handle(self, *args, **options):
        report = ledger_reconcile()
        if report.clean:
            self.stdout.write(
                f"Ledger clean: {report.accounts_checked} accounts and "
                f"{report.transfers_checked} transfers reconcile."
            )
            return
        for account_id, label, cached, ledger in report.balance_mismatches:
            self.stdout.write(
                f"account {account_id} ({label}): cached balance {cached} != ledger {ledger} "
                f"(difference {cached - ledger})"
            )
        for transfer_id, currency, total in report.unbalanced_transfers:
            self.stdout.write(f"transfer {transfer_id}: {currency} postings sum to {total}, not 0")
        for account_id, after in report.balance_after_mismatches:
            self.stdout.write(
                f"account {account_id}: its latest posting says balance {after}, "
                "the account says otherwise"
            )
        for account_id, balance, lots in report.credit_lot_mismatches:
            self.stdout.write(
                f"credit account {account_id}: balance {balance} != its lots' remaining {lots}"
            )
        for account_id, balance, kept in report.pending_points_mismatches:
            self.stdout.write(
                f"pending points account {account_id}: balance {balance} != its earnings' "
                f"unreleased points {kept}"
            )
        problems = (
            len(report.balance_mismatches)
            + len(report.unbalanced_transfers)
            + len(report.balance_after_mismatches)
            + len(report.credit_lot_mismatches)
            + len(report.pending_points_mismatches)
        )
        raise CommandError(f"Ledger does not reconcile: {problems} difference(s).", returncode=1)
