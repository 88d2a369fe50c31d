"""Provider failures, classified the same way whichever path a call took.

Both call paths turn whatever went wrong into a `ProviderError` with one of a few error
classes; `client.call_model` decides from it whether to retry, fall back or give up, and
turns it into a `ModelError` whose message has passed through redaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from podium.errors import ModelError
from podium.models.keys import redact

__all__ = ["ErrorClass", "ProviderError", "classify_status", "parse_retry_after"]

ErrorClass: TypeAlias = Literal[
    "rate_limit",
    "server_error",
    "timeout",
    "connection",
    "bad_response",
    "auth",
    "bad_request",
    "not_found",
    "context_window",
    "content_filter",
    "unknown",
]

TRANSIENT: frozenset[ErrorClass] = frozenset(
    {"rate_limit", "server_error", "timeout", "connection", "bad_response"}
)
_MAX_MESSAGE = 500
_STATUS_CLASSES: dict[int, ErrorClass] = {
    429: "rate_limit",
    408: "timeout",
    409: "server_error",
    401: "auth",
    403: "auth",
    404: "not_found",
}
_MESSAGE_CLASSES: tuple[tuple[str, ErrorClass], ...] = (
    ("context length", "context_window"),
    ("context_length", "context_window"),
    ("too many tokens", "context_window"),
    ("content_filter", "content_filter"),
    ("content policy", "content_filter"),
)


def classify_status(status: int, message: str = "") -> ErrorClass:
    """The error class of an HTTP error status (and, for 400s, its message)."""
    known = _STATUS_CLASSES.get(status)
    if known is not None:
        return known
    if status >= 500:
        return "server_error"
    lowered = message.lower()
    for needle, error in _MESSAGE_CLASSES:
        if needle in lowered:
            return error
    return "bad_request"


def parse_retry_after(headers: object) -> float | None:
    """Seconds from `retry-after-ms` or `retry-after` (seconds; HTTP dates are ignored)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = get(name)
        if value is None:
            continue
        try:
            seconds = float(value) * scale
        except (TypeError, ValueError):
            continue
        if seconds >= 0:
            return seconds
    return None


@dataclass(frozen=True, slots=True)
class ProviderError(Exception):
    """One failed attempt: the class of error, the HTTP status and `Retry-After` if any."""

    error: ErrorClass
    message: str
    status: int | None = None
    retry_after_s: float | None = None

    @property
    def transient(self) -> bool:
        return self.error in TRANSIENT

    def __str__(self) -> str:
        return self.message

    def to_model_error(
        self, model: str, *, streamed: bool = False, **details: object
    ) -> ModelError:
        """A `ModelError` naming the model and the class of failure, secrets removed."""
        status = f" {self.status}" if self.status is not None else ""
        text = redact(self.message)[:_MAX_MESSAGE]
        return ModelError(
            f"{model}: {self.error}{status}: {text}",
            retryable=self.transient or streamed,
            model=model,
            error=self.error,
            status=self.status,
            streamed=streamed,
            **details,
        )
