"""The API function's Lambda handler: the FastAPI app behind Mangum (HTTP API, payload v2)."""

from __future__ import annotations

from typing import Any

_handler: Any = None


def http_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _handler  # noqa: PLW0603 - built once per Lambda container
    if _handler is None:
        from mangum import Mangum  # noqa: PLC0415

        from podium.api.app import create_app  # noqa: PLC0415

        _handler = Mangum(create_app(), lifespan="off")
    result: dict[str, Any] = _handler(event, context)
    return result
