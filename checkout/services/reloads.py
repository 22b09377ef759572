"""Placeholder until its helper writes it (issue #10)."""


def auto_reload_after_purchase(*, order_id: int) -> None:
    return None
