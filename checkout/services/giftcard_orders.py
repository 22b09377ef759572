"""Placeholder until its helper writes it (issue #10)."""


def order_gift_cards_issue(*, order_id: int) -> None:
    return None


def order_gift_cards_cancel(*, order_id: int) -> None:
    return None
