"""Podium's errors: one root, split by who is at fault.

API-facing errors carry the HTTP status they map to, so one handler in the API turns any
of them into a JSON error body.
"""

from __future__ import annotations

from typing import Any, ClassVar


class PodiumError(Exception):
    """Root of every error Podium raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class AgentConfigError(PodiumError):
    """The user's agent file is wrong: invalid, inconsistent or referring to what is missing."""

    status = 400
    code = "agent_config_error"


class InputError(PodiumError):
    """A request or command was malformed or referred to something invalid."""

    status = 400
    code = "invalid_input"


class NotFoundError(PodiumError):
    """The thing asked for does not exist (or belongs to another tenant)."""

    status = 404
    code = "not_found"


class ConflictError(PodiumError):
    """The write lost a race: a session lease is held, a version moved, an item exists."""

    status = 409
    code = "conflict"


class AuthError(PodiumError):
    """Missing, invalid or revoked credentials."""

    status = 401
    code = "unauthorized"


class ForbiddenError(PodiumError):
    """Authenticated, but the key's scopes do not allow this."""

    status = 403
    code = "forbidden"


class IdempotencyInProgressError(ConflictError):
    """Another request with the same idempotency key is still at work: retry it later."""

    code = "idempotency_in_progress"


class IdempotencyKeyReusedError(PodiumError):
    """An idempotency key sent again with a different request."""

    status = 422
    code = "idempotency_key_reused"


class RateLimitError(PodiumError):
    """Too many requests for a key, or too many concurrent runs for a tenant."""

    status = 429
    code = "rate_limited"


class PayloadTooLargeError(PodiumError):
    """A request body over the configured limit."""

    status = 413
    code = "payload_too_large"


class BudgetExceededError(PodiumError):
    """A run's or session's cost budget would be exceeded by the next model call."""

    status = 402
    code = "budget_exceeded"


class ModelError(PodiumError):
    """The model provider failed: rate limited, erroring, timing out or answering garbage."""

    status = 502
    code = "model_error"

    def __init__(self, message: str, *, retryable: bool = False, **details: Any) -> None:
        super().__init__(message, **details)
        self.retryable = retryable


class ToolError(PodiumError):
    """A tool failed: raised, timed out, or returned something unusable."""

    status = 502
    code = "tool_error"


class StoreError(PodiumError):
    """The store could not read or write (not a conflict: those are ConflictError)."""

    status = 503
    code = "store_unavailable"
