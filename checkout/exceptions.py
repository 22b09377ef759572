class CheckoutError(Exception):
    """Base of every refusal in checkout; nothing was written. `reason` is the page's
    `data-reason`, the message plain words for the shopper."""

    reason = "invalid"

    def __init__(self, message: str, *, reason: str | None = None):
        super().__init__(message)
        if reason is not None:
            self.reason = reason

    @property
    def message(self) -> str:
        return str(self)


class ProductUnavailable(CheckoutError):
    reason = "product_unavailable"  # not "unavailable": that is the shared cache being down


class InvalidQuantity(CheckoutError):
    reason = "quantity"


class EmptyCart(CheckoutError):
    reason = "empty_cart"


class CardRequired(CheckoutError):
    reason = "card_required"


class PaymentDeclined(CheckoutError):
    reason = "declined"


class CheckoutChanged(CheckoutError):
    """The cart or the balance changed between the summary and the order (another tab)."""

    reason = "changed"


class RefundRefused(CheckoutError):
    reason = "refund_refused"


class AddressRequired(CheckoutError):
    """A cart with a physical item has nowhere to go yet (docs/interface.md §10)."""

    reason = "address_required"


class OrderTransitionRefused(CheckoutError):
    """Staff asked for a step the order cannot take (ship a failed or refunded order, deliver
    one not shipped)."""

    reason = "transition_refused"
