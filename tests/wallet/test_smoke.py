from django.core.management import call_command

from tests.wallet.factories import issue_card


def test_redeem_page_credits_the_balance(shopper_client, user):
    issued = issue_card(amount=2500)

    response = shopper_client.post("/gift-cards/redeem/", {"code": issued.code.lower()})

    assert response.status_code == 302
    assert response["Location"] == "/wallet/"
    page = shopper_client.get("/wallet/")
    assert 'data-amount-minor="2500"' in page.content.decode()
    call_command("wallet_reconcile")
