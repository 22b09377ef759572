"""The one base of every shop e-mail (templates/email/, config/mail.py): a text part and an HTML
alternative, the action link absolute from SITE_URL."""

from django.core import mail
from django.test import override_settings

from config.mail import mail_send, site_link


@override_settings(SITE_URL="https://shop.example/")
def test_mail_send_sends_text_and_html_with_an_absolute_link(tmp_path, settings):
    settings.TEMPLATES = [
        {**settings.TEMPLATES[0], "DIRS": [*settings.TEMPLATES[0]["DIRS"], tmp_path]}
    ]
    (tmp_path / "hello.txt").write_text(
        '{% extends "email/base.txt" %}{% block heading %}Hello{% endblock %}'
        "{% block content %}Body & text{% endblock %}"
    )
    (tmp_path / "hello.html").write_text(
        '{% extends "email/base.html" %}{% block title %}Hello{% endblock %}'
        "{% block heading %}Hello{% endblock %}{% block content %}<p>Body</p>{% endblock %}"
    )
    mail_send(
        to="a@example.com",
        subject="Hi",
        template="hello",
        context={"action_url": "/orders/CP-1/", "action_label": "View"},
    )
    (message,) = mail.outbox
    assert message.to == ["a@example.com"]
    assert "Body & text" in message.body
    assert "View: https://shop.example/orders/CP-1/" in message.body
    html, mimetype = message.alternatives[0]
    assert mimetype == "text/html"
    assert 'href="https://shop.example/orders/CP-1/"' in html
    assert "<h1>Hello</h1>" in html
    assert site_link("/x/") == "https://shop.example/x/"
