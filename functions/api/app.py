"""Lambda entry point: the HTTP API's request/response routes — Podium's FastAPI app behind
Mangum on an API Gateway HTTP API (payload v2). Streaming routes go to `functions/stream`."""

from podium.api.aws import http_handler as handler

__all__ = ["handler"]
