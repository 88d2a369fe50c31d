"""The errors a run's steps fail with, named as Step Functions sees them.

On AWS a Lambda's failure reaches Step Functions through the Python runtime's own error
serialization (`awslambdaric`), which reports `errorType` as the exception class's
`__name__`; `Retry` and `Catch` match `ErrorEquals` against that name. So a step that wants
the machine to tell its failure apart raises an exception whose *class name* is the error
name: each class below takes its name from the `error=` it is declared with, and the local
executor reports failures the same way (`lambda_error_payload`).

Failures that are not raised (SendTaskFailure of a denial or a client tool's error) keep
their string names: `DENIED_ERROR`, `CLIENT_TOOL_ERROR`.
"""

from __future__ import annotations

import json
import traceback
from typing import Any, ClassVar

from podium.errors import ToolError

DENIED_ERROR = "Podium.Denied"
"""SendTaskFailure of a denied approval."""
CLIENT_TOOL_ERROR = "Podium.ClientToolError"
"""SendTaskFailure of a client tool's error."""
CANCELLED_ERROR = "Podium.Cancelled"
MODEL_RETRYABLE_ERROR = "Podium.ModelRetryable"


class StepFailure(Exception):  # noqa: N818 - the class name is the Step Functions error name
    """Base of the failures a step raises on purpose; the class name is the error name."""

    error: ClassVar[str] = "StepFailure"

    def __init_subclass__(cls, *, error: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if error:
            cls.error = error
            cls.__name__ = cls.__qualname__ = error


class RunCancelled(StepFailure, error=CANCELLED_ERROR):
    """The run was cancelled: FailRun closes it as cancelled, not failed."""


class LeaseLost(StepFailure, error="Podium.LeaseLost"):
    """Another run holds the session's lease: this run's steps may not write."""


class ModelRetryable(StepFailure, error=MODEL_RETRYABLE_ERROR):
    """The model failed after it had streamed: Step Functions retries the whole step."""


class ModelFailed(StepFailure, error="Podium.ModelError"):
    """The model failed before anything was streamed, fallbacks included."""


class LambdaToolUnavailable(StepFailure, error="Podium.LambdaToolUnavailable"):
    """A `lambda` tool called where there is no Lambda to invoke (the local runner)."""


class NamedToolError(ToolError):
    """A tool attempt failed. The tool runner raises it under the name of the tool's own
    error (`named_tool_error`): a Python exception's class name, a `lambda` tool's `errorType`,
    so the tool's `retry.errors` match it as written, with a message of bounded size (the
    error travels in the Map's state)."""


_named_tool_errors: dict[str, type[NamedToolError]] = {}


def named_tool_error(name: str) -> type[NamedToolError]:
    """The NamedToolError subclass whose class name is `name` (one class per name)."""
    cls = _named_tool_errors.get(name)
    if cls is None:
        cls = type(name, (NamedToolError,), {"__qualname__": name})
        _named_tool_errors[name] = cls
    return cls


# Raised by Podium's own steps, by name: `podium build` may only match these (and the States.*
# and Lambda.* names) in the Retry and Catch rules it writes.
PODIUM_FAILURES: tuple[type[StepFailure], ...] = (
    RunCancelled,
    LeaseLost,
    ModelRetryable,
    ModelFailed,
    LambdaToolUnavailable,
)


def lambda_error_payload(exc: BaseException, *, skip_frames: int = 0) -> dict[str, Any]:
    """The error body the AWS Python runtime posts for an exception a handler raised:
    `errorMessage`, `errorType` (the class's `__name__`), `requestId`, `stackTrace` (from the
    handler down, without the caller's `skip_frames` frames, as the runtime leaves out its
    own)."""
    frames = traceback.extract_tb(exc.__traceback__)[skip_frames:]
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": "",
        "stackTrace": traceback.format_list(frames),
    }


def error_cause(payload: dict[str, Any]) -> str:
    """The `Cause` Step Functions records for a failed Lambda task: its error body as JSON."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
