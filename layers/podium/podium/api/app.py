"""The FastAPI app: the same code under uvicorn locally (`podium dev`), behind Mangum for
request/response routes in AWS, and under the Lambda Web Adapter for streaming routes."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from podium import __version__
from podium.api import errors
from podium.api.context import ApiContext, ApiSettings, default_signer
from podium.api.errors import error_body
from podium.api.routing import add_routes
from podium.engine.runtime import Runtime, get_runtime

log = logging.getLogger(__name__)

DESCRIPTION = """Podium runs AI agents from declarative agent files. Every route but `/health`,
the OpenAPI docs and the UI shell needs `Authorization: Bearer <api key>`; event streams also
take a short-lived `?token=` minted by `POST /sessions/{id}/events-token`. Events use the AI
SDK UI message stream protocol (v1)."""


class BodyLimit:
    """413 for a request body over the limit (declared or streamed)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLargeError
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLargeError:
            await _too_large(send, self.limit)


class _TooLargeError(Exception):
    pass


async def _too_large(send: Send, limit: int) -> None:
    import json  # noqa: PLC0415

    body = json.dumps(
        error_body("payload_too_large", f"the request body is larger than {limit} bytes")
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(runtime: Runtime | None = None, settings: ApiSettings | None = None) -> FastAPI:
    """The API over a runtime (built from the environment when None, as in Lambda)."""
    from podium.api import routes, routes_chat, routes_openai, ui  # noqa: PLC0415

    app = FastAPI(title="Podium", version=__version__, description=DESCRIPTION)
    settings = settings or ApiSettings.from_environment()
    app.state.podium = ApiContext(runtime or get_runtime(), settings, default_signer())
    errors.install(app)
    add_routes(app, [routes.router, routes_chat.router, routes_openai.router, ui.router])
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


def __getattr__(name: str) -> Any:
    """`podium.api.app:app` for uvicorn and the Lambda Web Adapter, built on first use."""
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
