from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "wallet"
    verbose_name = "Wallet and gift cards"

    def ready(self):
        from accounts.services import region_change_guard_register, region_change_recorder_register
        from wallet import coins_region_change, region_change

        # A shopper's region changes only while no balance would be stranded in the old
        # currency, and every attempt is audited (accounts/services.py).
        region_change_guard_register(
            region_change.wallet_region_change_guard, locks="wallet_account"
        )
        # Coins are worth a different amount in each currency: held, they keep the shopper in
        # regions of their currency (wallet/coins_region_change.py).
        region_change_guard_register(
            coins_region_change.coins_region_change_guard, locks="wallet_account"
        )
        region_change_recorder_register(region_change.wallet_region_change_audit)
