"""The run machine's task handlers, Lambda-shaped: `handler(event, context) -> dict`.

`functions/<name>/app.py` re-exports these for Lambda; the local executor calls them
in-process. Each builds on the process's runtime (`podium.engine.runtime`), and the logic
lives in the step modules.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from podium.engine.runtime import get_runtime
from podium.observe import xray
from podium.observe.logs import bind, unbind

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _correlated(handler: Handler) -> Handler:
    """Log records made while the handler runs carry the session, run and step ids; in
    Lambda, each invocation is an X-Ray subsegment (`podium.observe.xray`)."""
    traced = xray.traced(handler)

    @functools.wraps(handler)
    def wrapper(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        step = event.get("step") if isinstance(event.get("step"), int) else None
        token = bind(
            session_id=event.get("session_id"),
            run_id=event.get("run_id"),
            step=step if step is not None else event.get("after_step"),
            handler=handler.__name__,
        )
        try:
            return traced(event, context)
        finally:
            unbind(token)

    return wrapper


@_correlated
def begin_run(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from podium.engine.step_run import begin_run as step  # noqa: PLC0415

    return step(get_runtime(), event)


@_correlated
def model_step(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from podium.engine.step_model import model_step as step  # noqa: PLC0415

    return step(get_runtime(), event)


@_correlated
def record_tools(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from podium.engine.step_tools import record_tools as step  # noqa: PLC0415

    return step(get_runtime(), event)


@_correlated
def run_tool(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from podium.engine.step_tools import run_tool as step  # noqa: PLC0415

    return step(get_runtime(), event)


@_correlated
def await_callback(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from podium.engine.step_tools import await_callback as step  # noqa: PLC0415

    return step(get_runtime(), event)


@_correlated
def end_run(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from podium.engine.step_run import end_run as step  # noqa: PLC0415

    return step(get_runtime(), event)


@_correlated
def fail_run(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    from podium.engine.step_run import fail_run as step  # noqa: PLC0415

    return step(get_runtime(), event)


@xray.traced
def reconcile(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """EventBridge "Step Functions Execution Status Change" → close runs the machine did not."""
    import json  # noqa: PLC0415

    from podium.engine.step_run import finish_execution  # noqa: PLC0415

    detail = event.get("detail") or {}
    execution_input = json.loads(detail.get("input") or "{}")
    finish_execution(
        get_runtime(),
        execution_input,
        str(detail.get("status")),
        detail.get("error"),
        detail.get("cause"),
    )
    return {"reconciled": execution_input.get("run_id")}
