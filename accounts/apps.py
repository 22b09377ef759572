from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Shoppers and staff"

    def ready(self):
        from accounts import two_factor
        from config import sessions

        two_factor.connect()
        sessions.connect()
