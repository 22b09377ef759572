"""Sending a shop e-mail: one text part and one HTML part, both extending the one base template
(templates/email/base.txt and base.html), with absolute links built from settings.SITE_URL.

E-mails are sent from services without a request (after commit), so the shop's address comes
from the SITE_URL setting, never from a Host header a client chose.
"""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def site_link(path: str) -> str:
    """The absolute URL of a shop path such as "/orders/CP-1/" (SITE_URL without its slash)."""
    return settings.SITE_URL.rstrip("/") + path


def mail_send(*, to: str, subject: str, template: str, context: dict) -> None:
    """Render `<template>.txt` and `<template>.html` (each extends email/base.*) and send them
    as one message to `to`. `context["action_url"]` may be a path; it is made absolute here.
    Call it from `transaction.on_commit`, never inside the transaction that it reports."""
    context = {**context, "site_url": settings.SITE_URL.rstrip("/")}
    if str(context.get("action_url", "")).startswith("/"):
        context["action_url"] = site_link(context["action_url"])
    text = render_to_string(f"{template}.txt", context)
    html = render_to_string(f"{template}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, to=[to])
    message.attach_alternative(html, "text/html")
    message.send()
