"""Structured JSON logs, each line carrying the session, run and step it belongs to.

`bind(session_id=…, run_id=…, step=…)` sets the correlation ids for the current context
(handlers do this on entry); `configure()` installs the JSON formatter on the root logger
(Lambda does this at cold start, or set `PODIUM_LOG_FORMAT=json` locally).
"""

from __future__ import annotations

import contextvars
import json
import logging
import os
import time
from typing import Any

ENV_LOG_FORMAT = "PODIUM_LOG_FORMAT"
_context: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "podium_log_context", default=None
)


def bind(**ids: Any) -> contextvars.Token[dict[str, Any] | None]:
    """Correlation ids for log records made in this context (until `unbind`)."""
    current = dict(_context.get() or {})
    current.update({k: v for k, v in ids.items() if v is not None})
    return _context.set(current)


def unbind(token: contextvars.Token[dict[str, Any] | None]) -> None:
    _context.reset(token)


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, the bound ids, the exception."""

    def __init__(self, service: str = "podium") -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        body: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            **(_context.get() or {}),
        }
        request_id = os.environ.get("_X_AMZN_TRACE_ID")
        if request_id:
            body["xray_trace_id"] = request_id
        if record.exc_info:
            body["exception"] = self.formatException(record.exc_info)
        return json.dumps(body, default=str, ensure_ascii=False)


def configure(level: str | None = None) -> None:
    """JSON lines on the root logger (idempotent)."""
    root = logging.getLogger()
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "podium")
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service))
    root.handlers = [handler]
    root.setLevel(level or os.environ.get("PODIUM_LOG_LEVEL", "INFO"))
