"""One place that turns every error into a JSON body with the right status."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from podium.errors import PodiumError

log = logging.getLogger(__name__)


def error_body(code: str, message: str, **details: object) -> dict[str, object]:
    body: dict[str, object] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return {"error": body}


def install(app: FastAPI) -> None:
    @app.exception_handler(PodiumError)
    async def podium_error(request: Request, exc: PodiumError) -> JSONResponse:
        headers = {}
        retry_after = exc.details.get("retry_after")
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
        if exc.status >= 500:
            log.error("path=%s code=%s | %s", request.url.path, exc.code, exc.message)
        return JSONResponse(
            error_body(exc.code, exc.message, **exc.details), exc.status, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"location": ".".join(str(p) for p in item.get("loc", ())),
             "message": item.get("msg", ""), "type": item.get("type", "")}
            for item in exc.errors()
        ]  # fmt: skip
        json_error = any(p["type"] == "json_invalid" for p in problems)
        code = "invalid_json" if json_error else "invalid_request"
        message = "the body is not valid JSON" if json_error else "the request is invalid"
        return JSONResponse(error_body(code, message, problems=problems), 400)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(code, str(exc.detail)),
            exc.status_code,
            headers=getattr(exc, "headers", None),
        )
