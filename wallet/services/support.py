"""Messages sent to the shop's staff through the contact form of /help/."""

from wallet.exceptions import WalletError
from wallet.models import SupportRequest


def support_request_create(
    *, user, name: str, email: str, topic: str, message: str
) -> SupportRequest:
    """Store a contact-form message for staff (listed in the admin as "support requests").

    `user` is the signed-in shopper, or None for a visitor. Raises `WalletError` for an empty
    name, e-mail or message, or an unknown topic; nothing is written then.
    """
    name, email, message = name.strip(), email.strip(), message.strip()
    if not (name and email and message):
        raise WalletError("a name, an e-mail address and a message are needed")
    if topic not in SupportRequest.Topic.values:
        raise WalletError(f"unknown topic {topic!r}")
    return SupportRequest.objects.create(
        user=user if user is not None and user.is_authenticated else None,
        name=name[:100],
        email=email[:254],
        topic=topic,
        message=message[:4000],
    )
