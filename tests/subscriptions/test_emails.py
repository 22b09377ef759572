"""The Subscribe & Save e-mails (subscriptions/emails.py): the reminder before a delivery, a
failed payment (retried, then paused), a subscription the shop paused, and a delivery's order
e-mail. What each says, that each goes once and only after commit, that a mail server failing
is logged and never stops the run, and that no card number is ever in one."""

import datetime
import logging

import pytest

import subscriptions.emails as emails
from catalog.models import Price, Product, Region
from catalog.regions import region_today
from checkout.payments import TestGateway
from subscriptions.models import Subscription
from subscriptions.services import subscription_reminders_send, subscriptions_run
from tests.accounts.factories import UserFactory
from tests.checkout.shopping import APPROVED, DECLINED, fund
from tests.subscriptions.given import subscribable_product, subscription_give

pytestmark = pytest.mark.django_db

CARD_NUMBERS = (TestGateway.APPROVED, TestGateway.DECLINED, TestGateway.CAPTURE_FAILS)


def _today(code: str = "US") -> datetime.date:
    return region_today(Region.objects.get(code=code))


def _parts(message) -> tuple[str, str, str]:
    """Subject, text and HTML of a sent message, with babel's narrow spaces made plain."""
    html = message.alternatives[0][0]
    plain = [s.replace("\u202f", " ").replace("\xa0", " ") for s in (message.body, html)]
    return message.subject, plain[0], plain[1]


def _no_card_number(message) -> None:
    everything = "".join(_parts(message)).replace(" ", "")
    for number in CARD_NUMBERS:
        assert number not in everything
        assert number[:12] not in everything


def _remind(sub, on: datetime.date, callbacks) -> int:
    with callbacks(execute=True):
        return subscription_reminders_send(region=sub.region, today=on)


# --- the reminder ---------------------------------------------------------------------------


def test_the_reminder_says_when_how_many_what_it_costs_and_links_to_skip(
    mailoutbox, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://shop.example/"
    user = UserFactory(region_id="US")
    product = subscribable_product(price=1899, name="Coffee Beans 1 kg")
    due = _today() + datetime.timedelta(days=3)
    sub = subscription_give(user, product, quantity=2, due=due)

    assert _remind(sub, _today(), django_capture_on_commit_callbacks) == 1

    (message,) = mailoutbox
    subject, text, html = _parts(message)
    day = f"{due:%A} {due.day} {due:%B %Y}"
    assert message.to == [user.email]
    assert subject == f"[Coinpurse] Your Coffee Beans 1 kg delivery is on {day}"
    skip = f"/subscriptions/{sub.pk}/skip/?date={due:%Y-%m-%d}"
    for body in (text, html):
        assert day in body
        assert "$18.04 each" in body
        assert "5% off $18.99" in body
        assert "$36.08" in body  # 2 x 18.04, before shipping and promotions
        assert "before shipping and promotions" in body
        assert "card ending in 4242" in body
        assert "price went" not in body  # no delivery yet: nothing to compare with
        assert f"https://shop.example{skip}" in body
    assert f'href="https://shop.example{skip}"' in html
    assert "2 x Coffee Beans 1 kg at $18.04 each (Subscribe & Save: 5% off $18.99)" in text
    assert "Total before shipping and promotions: $36.08" in text
    assert "2 \u00d7 Coffee Beans 1 kg" in html
    _no_card_number(message)


@pytest.mark.parametrize(
    ("new_list", "went", "old", "new"),
    [(1999, "up", "$18.04", "$18.99"), (1799, "down", "$18.04", "$17.09")],
)
def test_the_reminder_tells_a_price_change_since_the_last_delivery(
    new_list, went, old, new, mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(region_id="US")
    fund(user, 10_000)
    product = subscribable_product(price=1899)
    sub = subscription_give(user, product)
    with django_capture_on_commit_callbacks(execute=True):
        assert subscriptions_run().outcomes["placed"] == 1  # last_unit_price 1804
    sub.refresh_from_db()
    Price.objects.filter(product=product, region_id="US").update(amount=new_list)
    mailoutbox.clear()

    assert _remind(
        sub, sub.next_date - datetime.timedelta(days=3), django_capture_on_commit_callbacks
    )

    (message,) = mailoutbox
    _, text, html = _parts(message)
    for body in (text, html):
        assert f"The price went {went}" in body
        assert f"{old} each then, {new} each now" in body
    _no_card_number(message)


def test_the_reminder_uses_the_regions_locale_for_amounts(
    mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(region_id="FR")
    sub = subscription_give(
        user, subscribable_product(price=123450), due=_today("FR") + datetime.timedelta(days=2)
    )

    _remind(sub, _today("FR"), django_capture_on_commit_callbacks)

    _, text, _ = _parts(mailoutbox[0])
    assert "1 172,77 €" in text  # fr_FR (de_DE would write 1.172,77 €)


def test_a_reminder_goes_once_per_delivery(mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory(region_id="US")
    due = _today() + datetime.timedelta(days=3)
    sub = subscription_give(user, due=due)

    first = _remind(sub, _today(), django_capture_on_commit_callbacks)
    again = _remind(sub, _today(), django_capture_on_commit_callbacks)
    next_day = _remind(
        sub, _today() + datetime.timedelta(days=1), django_capture_on_commit_callbacks
    )

    assert (first, again, next_day) == (1, 0, 0)
    assert len(mailoutbox) == 1


def test_a_reminder_is_sent_only_after_commit(mailoutbox, django_capture_on_commit_callbacks):
    user = UserFactory(region_id="US")
    sub = subscription_give(user, due=_today() + datetime.timedelta(days=3))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        subscription_reminders_send(region=sub.region, today=_today())
        assert mailoutbox == []  # still inside the run's transaction

    assert len(callbacks) == 1
    assert mailoutbox == []
    callbacks[0]()
    assert len(mailoutbox) == 1


def test_a_failing_mail_server_is_logged_and_the_run_goes_on(
    monkeypatch, caplog, mailoutbox, django_capture_on_commit_callbacks
):
    def refuse(**kwargs):
        raise ConnectionRefusedError("no mail server")

    monkeypatch.setattr(emails, "mail_send", refuse)
    user = UserFactory(region_id="US")
    due = _today() + datetime.timedelta(days=3)
    sub = subscription_give(user, due=due)
    later = subscription_give(UserFactory(region_id="US"), due=due)

    with caplog.at_level(logging.ERROR, logger="subscriptions.emails"):
        assert _remind(sub, _today(), django_capture_on_commit_callbacks) == 2

    assert f"subscription {sub.pk}: the reminder e-mail was not sent" in caplog.text
    assert f"subscription {later.pk}: the reminder e-mail was not sent" in caplog.text
    assert Subscription.objects.filter(reminded_for=due).count() == 2


# --- a failed payment -----------------------------------------------------------------------


def test_a_failed_payment_says_which_attempt_then_that_it_paused(
    mailoutbox, django_capture_on_commit_callbacks, settings
):
    user = UserFactory(region_id="US")
    product = subscribable_product(price=1899, name="Dish Soap Refill")
    sub = subscription_give(user, product, card=DECLINED)
    attempts = settings.SUBSCRIPTION_PAYMENT_RETRIES + 1

    for day in range(attempts):
        with django_capture_on_commit_callbacks(execute=True):
            subscriptions_run(date=_today() + datetime.timedelta(days=day))

    assert len(mailoutbox) == attempts  # one per attempt
    due = sub.next_date
    first_subject, first_text, first_html = _parts(mailoutbox[0])
    assert first_subject == (
        "[Coinpurse] Payment failed for your Dish Soap Refill delivery: we will try again"
    )
    for body in (first_text, first_html):
        assert f"due on {due:%A} {due.day} {due:%B %Y}" in body
        assert f"attempt 1 of {attempts}" in body
        assert "$18.04 before shipping and promotions" in body
        assert body.count("Nothing was charged") == 1
        assert "Your card was declined." in body  # the refusal's words
        assert "We will try again on the next run, tomorrow (3 more attempts" in body
        assert "card ending in 0002" in body
        assert "/gift-cards/redeem/" in body
        assert "/wallet/reload/" in body
    last_subject, last_text, last_html = _parts(mailoutbox[-1])
    assert last_subject == (
        "[Coinpurse] Subscribe & Save paused: we could not take payment for Dish Soap Refill"
    )
    for body in (last_text, last_html):
        assert f"attempt {attempts} of {attempts}" in body
        assert "we paused the subscription" in body
        assert "then resume the subscription" in body
        assert "try again" not in body
    for message in mailoutbox:
        _no_card_number(message)
    sub.refresh_from_db()
    assert (sub.status, sub.pause_reason) == ("paused", "payment_failed")


def test_without_a_card_the_failed_payment_asks_for_a_top_up_or_a_card(
    mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(region_id="US")
    subscription_give(user, subscribable_product(price=1899), card="")

    with django_capture_on_commit_callbacks(execute=True):
        subscriptions_run()

    (message,) = mailoutbox
    _, text, html = _parts(message)
    for body in (text, html):
        assert "no card is saved" in body
        assert "or save a card" in body
        assert "card ending" not in body


def test_a_failed_payment_mail_server_failure_is_logged(
    monkeypatch, caplog, django_capture_on_commit_callbacks
):
    monkeypatch.setattr(emails, "mail_send", lambda **kwargs: 1 / 0)
    sub = subscription_give(UserFactory(region_id="US"), card=DECLINED)

    with django_capture_on_commit_callbacks(execute=True):
        summary = subscriptions_run()

    assert (summary.outcomes["failed"], summary.errors) == (1, 0)
    assert f"subscription {sub.pk}: the payment_failed e-mail was not sent" in caplog.text


# --- paused by the shop ---------------------------------------------------------------------


def test_a_product_no_longer_sold_pauses_and_says_nothing_was_charged(
    mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(region_id="US")
    product = subscribable_product(price=1899, name="Printer Paper")
    sub = subscription_give(user, product, card=APPROVED)
    Product.objects.filter(pk=product.pk).update(is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        assert subscriptions_run().outcomes["paused"] == 1

    (message,) = mailoutbox
    subject, text, html = _parts(message)
    assert subject == "[Coinpurse] Subscribe & Save paused: Printer Paper"
    due = sub.next_date
    for body in (text, html):
        assert f"The delivery due on {due:%A} {due.day} {due:%B %Y} was not placed" in body
        assert "Printer Paper is no longer sold here." in body
        assert "Nothing was charged." in body
        assert "/subscriptions/" in body
    _no_card_number(message)


# --- a delivery's order e-mail --------------------------------------------------------------


def test_a_deliverys_order_email_says_it_is_subscribe_and_save(
    mailoutbox, django_capture_on_commit_callbacks
):
    user = UserFactory(region_id="US")
    subscription_give(user, subscribable_product(price=1899, name="AA Batteries"))

    with django_capture_on_commit_callbacks(execute=True):
        subscriptions_run()

    (message,) = [m for m in mailoutbox if "Your order" in m.subject]
    _, text, html = _parts(message)
    assert "1 x AA Batteries (Subscribe & Save price): $18.04" in text
    for body in (text, html):
        assert body.count("This is your Subscribe &") == 1
        assert "/subscriptions/" in body
    _no_card_number(message)


def test_an_ordinary_order_email_says_nothing_of_subscribe_and_save(
    mailoutbox, django_capture_on_commit_callbacks
):
    from tests.checkout.shopping import order_make

    user = UserFactory(region_id="US")
    fund(user, 5000)
    with django_capture_on_commit_callbacks(execute=True):
        order_make(user, (subscribable_product(price=1899), 1))

    (message,) = mailoutbox
    _, text, html = _parts(message)
    assert "Subscribe" not in text
    assert "Subscribe" not in html


def test_no_address_pauses_and_links_to_the_addresses(
    mailoutbox, django_capture_on_commit_callbacks
):
    from accounts.addresses import address_delete, address_list_for_user

    user = UserFactory(region_id="US")
    subscription_give(user, subscribable_product(price=1899))
    for address in address_list_for_user(user=user):
        address_delete(user=user, address_id=address.pk)

    with django_capture_on_commit_callbacks(execute=True):
        assert subscriptions_run().outcomes["paused"] == 1

    (message,) = mailoutbox
    _, text, html = _parts(message)
    for body in (text, html):
        assert "There is no delivery address" in body
        assert "/account/addresses/" in body
        assert "Nothing was charged." in body
