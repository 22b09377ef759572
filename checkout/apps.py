from django.apps import AppConfig


class CheckoutConfig(AppConfig):
    name = "checkout"
    verbose_name = "Cart, orders and payments"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in

        from checkout.services import cart_merge_on_login

        # A visitor's session cart joins their saved cart when they sign in.
        user_logged_in.connect(cart_merge_on_login, dispatch_uid="checkout.cart_merge_on_login")

        from accounts.services import region_change_guard_register
        from checkout import region_change

        # A shopper's region changes only with an empty cart and no open order in the old
        # currency (accounts/services.py).
        region_change_guard_register(region_change.checkout_region_change_guard, locks="cart")

        from checkout.context_processors import cart_count_statement, cart_count_value
        from config.frame_reads import FrameRead, frame_read_register

        # The navigation's cart count, for a page that sends its reads together to send too.
        frame_read_register(
            FrameRead(name="nav_cart_count", statement=cart_count_statement, value=cart_count_value)
        )
