from django.apps import AppConfig


class SubscriptionsConfig(AppConfig):
    name = "subscriptions"
    verbose_name = "Subscribe & Save"

    def ready(self):
        from accounts.services import region_change_guard_register
        from subscriptions import region_change

        # A shopper's region changes only once their subscriptions are cancelled: each is
        # priced and delivered in the region it was started in (accounts/services.py).
        region_change_guard_register(
            region_change.subscriptions_region_change_guard, locks="subscription"
        )
