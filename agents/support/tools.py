"""Tools of the support agent, backed by a small in-memory order book."""

from __future__ import annotations

_ORDERS: dict[str, dict[str, object]] = {
    "AB-1234": {"status": "delivered", "items": ["kettle"], "total_usd": 39.90},
    "CD-5678": {"status": "in transit", "items": ["mug", "teapot"], "total_usd": 54.00},
}


def lookup_order(order_id: str) -> dict[str, object]:
    """An order's status, items and total; unknown ids are reported, not raised."""
    order = _ORDERS.get(order_id.upper())
    if order is None:
        return {"order_id": order_id, "found": False}
    return {"order_id": order_id.upper(), "found": True, **order}


def issue_refund(order_id: str, amount_usd: float, reason: str) -> dict[str, object]:
    """Refund part or all of an order (runs only after a human approved it)."""
    order = _ORDERS.get(order_id.upper())
    if order is None:
        raise ValueError(f"no order {order_id}")
    total = float(str(order["total_usd"]))
    if amount_usd > total:
        raise ValueError(f"refund {amount_usd} exceeds the order total {total}")
    return {"order_id": order_id.upper(), "refunded_usd": amount_usd, "reason": reason}
