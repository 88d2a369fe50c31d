"""AWS X-Ray subsegments through Powertools' Tracer: one per handler invocation, one per model
call and one per tool call.

On only inside Lambda (`AWS_LAMBDA_FUNCTION_NAME` set) and unless `POWERTOOLS_TRACE_DISABLED`
is true. The first traced invocation creates the process's one Powertools `Tracer` (service
`POWERTOOLS_SERVICE_NAME`, default `podium`, no library patching), and so imports the X-Ray
SDK: importing this module (or `podium`, or a handler) never does, and outside Lambda nothing
ever does.

- `traced(handler)` opens a `## <handler>` subsegment for each invocation, annotated with
  `ColdStart`, `Service`, `handler`, `session_id`, `run_id`, `agent`, `step` (and `tool`,
  `call_id` for a tool's invocation); an exception is recorded as its fault, message masked.
- `span_finished(recorder, span)` is called by `SpanRecorder` for every span it finishes. A
  model call becomes `model <model>` (its attempts nested in it), the tool run in this
  invocation (the tool span's attempt) `tool <name>`; each keeps the span's own start and end
  and carries annotations (`kind`, `agent`, `model` or `tool`, `run_id`, `session_id`, `step`,
  `status`, `routing_reason`) and metadata (tokens, cost, time to first token, the error and
  the retry history). The tool span `record_tools` writes later sums up attempts X-Ray already
  has, so it is not sent again.

A span's attributes were redacted by the agent's rules before the span was stored, and only
those are used; error text is redacted too, and masked with every known secret and pattern
(`podium.models.keys.redact`). Each subsegment goes to the X-Ray daemon when it ends, as the SDK
streams them in Lambda. A failure here is logged as a warning; it never fails the run.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
import threading
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.observe.spans import SpanRecorder
    from podium.store.models import Span

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

ENV_FUNCTION = "AWS_LAMBDA_FUNCTION_NAME"
ENV_DISABLED = "POWERTOOLS_TRACE_DISABLED"
ENV_SERVICE = "POWERTOOLS_SERVICE_NAME"
ENV_INIT_TYPE = "AWS_LAMBDA_INITIALIZATION_TYPE"
DEFAULT_SERVICE = "podium"
TRUTHY = frozenset({"1", "y", "yes", "t", "true", "on"})
"""What Powertools reads as true in `POWERTOOLS_TRACE_DISABLED`."""

MODEL_PREFIX, TOOL_PREFIX = "model-", "tool-"
"""How `podium.observe.spans` names model and tool spans (`model_span_id`, `tool_span_id`)."""
MODEL_METADATA = ("input_tokens", "output_tokens", "cached_tokens", "reasoning_tokens",
                  "cost_usd", "priced", "ttft_ms", "latency_ms", "finish_reason", "attempt",
                  "attempts")  # fmt: skip
"""A model span's figures that go into its subsegment's metadata."""
ANNOTATION_CHARS = 250
METADATA_CHARS = 2000
NAME_CHARS = 200
"""X-Ray's limit on a subsegment's name."""

_UNSET: Any = object()
_tracer: Any = _UNSET
_lock = threading.Lock()
_cold_start = True


class _Invocation:
    """One traced handler invocation: its subsegment, ids, and model attempts waiting for
    their model span."""

    __slots__ = ("ids", "pending", "provider", "service", "subsegment")

    def __init__(self, provider: Any, subsegment: Any, service: str, ids: dict[str, Any]) -> None:
        self.provider = provider
        self.subsegment = subsegment
        self.service = service
        self.ids = ids
        self.pending: dict[str, list[Span]] = {}


_invocation: contextvars.ContextVar[_Invocation | None] = contextvars.ContextVar(
    "podium_xray_invocation", default=None
)


def enabled() -> bool:
    """Inside Lambda, and not turned off with `POWERTOOLS_TRACE_DISABLED`."""
    if not os.environ.get(ENV_FUNCTION):
        return False
    return os.environ.get(ENV_DISABLED, "").strip().lower() not in TRUTHY


def get_tracer() -> Any | None:
    """The process's Powertools `Tracer`, created on first use; None outside Lambda, when
    tracing is off, or when it could not be created. Decided once per process (`reset`)."""
    global _tracer  # noqa: PLW0603 - one tracer per process
    current = _tracer
    if current is not _UNSET:
        return current
    with _lock:
        if _tracer is _UNSET:
            _tracer = _create() if enabled() else None
        return _tracer


def reset() -> None:
    """Forget the tracer and the cold start (tests change the environment between runs)."""
    global _tracer, _cold_start  # noqa: PLW0603
    with _lock:
        _tracer = _UNSET
        _cold_start = True


def _create() -> Any | None:
    try:
        from aws_lambda_powertools.tracing import Tracer  # noqa: PLC0415 - Lambda only

        tracer = Tracer(service=os.environ.get(ENV_SERVICE) or DEFAULT_SERVICE, auto_patch=False)
    except Exception:
        log.warning("X-Ray tracing is off: the tracer could not be created", exc_info=True)
        return None
    return None if tracer.disabled else tracer


def _is_cold_start() -> bool:
    global _cold_start  # the first invocation of the process
    cold, _cold_start = _cold_start, False
    return cold and os.environ.get(ENV_INIT_TYPE) != "provisioned-concurrency"


# ----------------------------------------------------------------------------- handlers


def traced(handler: Handler) -> Handler:
    """`handler` with a `## <name>` subsegment per invocation (inside Lambda)."""
    name = handler.__name__

    @functools.wraps(handler)
    def wrapper(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        tracer = get_tracer()
        if tracer is None:
            return handler(event, context)
        return _invoke(tracer, name, handler, event, context)

    return wrapper


def _invoke(
    tracer: Any, name: str, handler: Handler, event: dict[str, Any], context: Any
) -> dict[str, Any]:
    provider = tracer.provider
    try:
        subsegment = provider.begin_subsegment(_name(f"## {name}"))
    except Exception:
        log.warning("X-Ray: could not open the %s subsegment", name, exc_info=True)
        subsegment = None
    if subsegment is None:
        return handler(event, context)
    invocation = _Invocation(provider, subsegment, str(tracer.service or DEFAULT_SERVICE),
                             _event_ids(event))  # fmt: skip
    _guarded(_annotate_handler, invocation, name)
    token = _invocation.set(invocation)
    try:
        return handler(event, context)
    except Exception as exc:
        _guarded(_record_exception, invocation.subsegment, exc)
        raise
    finally:
        _invocation.reset(token)
        _guarded(_close, invocation)


def _event_ids(event: dict[str, Any]) -> dict[str, Any]:
    """The ids a handler's input carries (never its arguments or outputs)."""
    if not isinstance(event, dict):
        return {}
    ids: dict[str, Any] = {key: event[key] for key in ("session_id", "run_id", "agent")
                           if isinstance(event.get(key), str)}  # fmt: skip
    for key in ("step", "after_step"):  # a tool's step; the step a model step follows
        if isinstance(event.get(key), int) and not isinstance(event.get(key), bool):
            ids[key] = event[key]
    call = event.get("call")
    if isinstance(call, dict):
        for key, target in (("name", "tool"), ("call_id", "call_id")):
            if isinstance(call.get(key), str):
                ids[target] = call[key]
    return ids


def _annotate_handler(invocation: _Invocation, name: str) -> None:
    subsegment = invocation.subsegment
    subsegment.put_annotation("ColdStart", _is_cold_start())
    subsegment.put_annotation("Service", invocation.service)
    subsegment.put_annotation("handler", name)
    for key, value in invocation.ids.items():
        subsegment.put_annotation(key, _short(value, ANNOTATION_CHARS))


def _record_exception(entity: Any, exc: BaseException) -> None:
    from podium.models.keys import redact  # noqa: PLC0415

    stack = traceback.extract_tb(exc.__traceback__)
    _add_fault(entity, type(exc).__name__, redact(str(exc)), stack)


def _close(invocation: _Invocation) -> None:
    """Send model attempts whose model span never came, then end the handler's subsegment."""
    try:
        for attempts in invocation.pending.values():
            for attempt in attempts:
                _send(invocation, _attempt_subsegment(invocation, attempt, None, None))
    except Exception:
        log.warning("X-Ray: model attempts could not be sent", exc_info=True)
    finally:
        invocation.pending.clear()
        invocation.provider.end_subsegment()


# ----------------------------------------------------------------------------- spans


def span_finished(recorder: SpanRecorder, span: Span) -> None:
    """Called by `SpanRecorder` when a span is written finished: a model call, a tool call or
    one of their attempts becomes a subsegment of the invocation's. A no-op elsewhere."""
    invocation = _invocation.get()
    if invocation is None or span.kind not in {"model", "attempt"} or span.end is None:
        return
    try:
        _span_finished(invocation, recorder, span)
    except Exception:
        log.warning("run_id=%s span=%s | X-Ray subsegment failed", span.run_id, span.span_id,
                    exc_info=True)  # fmt: skip


def _span_finished(invocation: _Invocation, recorder: SpanRecorder, span: Span) -> None:
    if not getattr(invocation.subsegment, "sampled", False):
        return
    parent = span.parent_id or ""
    if span.kind == "attempt" and parent.startswith(MODEL_PREFIX):
        invocation.pending.setdefault(parent, []).append(span)  # nested in its model call
    elif span.kind == "attempt" and parent.startswith(TOOL_PREFIX):
        _send(invocation, _tool_subsegment(invocation, recorder, span))
    elif span.kind == "attempt":
        _send(invocation, _attempt_subsegment(invocation, span, recorder, None))
    else:
        _send(invocation, _model_subsegment(invocation, recorder, span))


def _subsegment(invocation: _Invocation, name: str, span: Span, parent: Any) -> Any:
    from aws_xray_sdk.core.models.subsegment import (  # type: ignore[import-untyped]  # noqa: PLC0415
        Subsegment,
    )

    handler = invocation.subsegment
    subsegment = Subsegment(_name(name), "local", handler.parent_segment)
    (handler if parent is None else parent).add_subsegment(subsegment)
    subsegment.start_time = span.start
    return subsegment


def _annotate(subsegment: Any, values: dict[str, Any]) -> None:
    for key, value in values.items():
        if isinstance(value, bool | int | float) or (isinstance(value, str) and value):
            subsegment.put_annotation(key, _short(value, ANNOTATION_CHARS))


def _common(invocation: _Invocation, recorder: SpanRecorder | None, span: Span) -> dict[str, Any]:
    ids = invocation.ids
    return {
        "run_id": span.run_id,
        "session_id": recorder.session_id if recorder is not None else ids.get("session_id"),
        "agent": ids.get("agent"),
        "status": span.status,
    }


def _model_subsegment(invocation: _Invocation, recorder: SpanRecorder, span: Span) -> Any:
    attributes = span.attributes or {}
    model = str(attributes.get("model") or span.name)
    subsegment = _subsegment(invocation, f"model {model}", span, None)
    _annotate(subsegment, {
        "kind": "model", **_common(invocation, recorder, span), "model": model,
        "step": attributes.get("step", invocation.ids.get("step")),
        "routing_reason": attributes.get("routing_reason"),
    })  # fmt: skip
    attempts = sorted(invocation.pending.pop(span.span_id, []), key=lambda a: a.start)
    metadata = {key: attributes[key] for key in MODEL_METADATA if attributes.get(key) is not None}
    metadata["retries"] = [_attempt_view(attempt) for attempt in attempts]
    if span.status == "error":
        error = _error(recorder, span.error)
        metadata["error"] = error
        _add_fault(subsegment, str(error.get("Error", "ModelError")), _cause(error), None)
    subsegment.put_metadata("model_call", _clip(metadata), invocation.service)
    for attempt in attempts:
        _attempt_subsegment(invocation, attempt, recorder, subsegment)
    subsegment.close(span.end)
    return subsegment


def _attempt_view(attempt: Span) -> dict[str, Any]:
    """One try at a provider, for the retry history: outcome, error class, HTTP status."""
    attributes = attempt.attributes or {}
    view: dict[str, Any] = {"name": attempt.name, "ok": attempt.status == "ok"}
    for key, target in (("model", "model"), ("outcome", "outcome"), ("error", "error"),
                        ("status", "http_status"), ("retry_after_s", "retry_after_s"),
                        ("duration_ms", "duration_ms")):  # fmt: skip
        if attributes.get(key) is not None:
            view[target] = attributes[key]
    return view


def _attempt_subsegment(
    invocation: _Invocation, span: Span, recorder: SpanRecorder | None, parent: Any
) -> Any:
    """A model attempt, nested in its model call's subsegment (or the handler's)."""
    subsegment = _subsegment(invocation, span.name, span, parent)
    attributes = span.attributes or {}
    _annotate(subsegment, {"kind": "attempt", **_common(invocation, recorder, span),
                           "model": attributes.get("model"),
                           "outcome": attributes.get("outcome")})  # fmt: skip
    subsegment.put_metadata("attempt", _clip(_attempt_view(span)), invocation.service)
    if span.status == "error":
        status = attributes.get("status")
        if isinstance(status, int) and 400 <= status < 500:
            subsegment.add_error_flag()
            if status == 429:
                subsegment.add_throttle_flag()
        else:
            subsegment.add_fault_flag()
    subsegment.close(span.end)
    return subsegment


def _tool_subsegment(invocation: _Invocation, recorder: SpanRecorder, span: Span) -> Any:
    """The tool run in this invocation (one attempt of the tool call)."""
    tool = span.name.removesuffix(" attempt") or str(invocation.ids.get("tool", "tool"))
    subsegment = _subsegment(invocation, f"tool {tool}", span, None)
    call_id = invocation.ids.get("call_id")
    _annotate(subsegment, {
        "kind": "tool", **_common(invocation, recorder, span), "tool": tool,
        "call_id": call_id if tool == invocation.ids.get("tool") else None,
        "step": invocation.ids.get("step"),
    })  # fmt: skip
    metadata: dict[str, Any] = {"duration_ms": round(((span.end or span.start) - span.start)
                                                     * 1000, 3)}  # fmt: skip
    if span.status == "error":
        error = _error(recorder, span.error)
        metadata["error"] = error
        _add_fault(subsegment, str(error.get("Error", "ToolError")), _cause(error), None)
    subsegment.put_metadata("tool_call", _clip(metadata), invocation.service)
    subsegment.close(span.end)
    return subsegment


def _send(invocation: _Invocation, subsegment: Any) -> None:
    """Send a finished subsegment (with its children) on its own, as the SDK streams one,
    and detach it from the handler's, which goes out without it when it ends."""
    parent = invocation.subsegment
    try:
        invocation.provider.emitter.send_entity(subsegment)
    finally:
        for child in list(subsegment.subsegments):
            subsegment.remove_subsegment(child)
        if subsegment in parent.subsegments:
            parent.remove_subsegment(subsegment)


def _error(recorder: SpanRecorder | None, error: dict[str, Any] | None) -> dict[str, Any]:
    """The span's error, redacted by the agent's rules and masked of every known secret."""
    from podium.models.keys import redact  # noqa: PLC0415

    value = recorder.redact(error or {}) if recorder is not None else (error or {})

    def mask(item: Any) -> Any:
        if isinstance(item, str):
            return redact(item)
        if isinstance(item, dict):
            return {key: mask(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [mask(inner) for inner in item]
        return item

    masked = mask(value)
    return masked if isinstance(masked, dict) else {"Error": str(masked)}


def _cause(error: dict[str, Any]) -> str:
    return str(error.get("Cause") or error.get("Error") or "error")


def _add_fault(entity: Any, kind: str, message: str, stack: Any) -> None:
    """Flag `entity` as failed with an exception of type `kind` and (masked) `message`."""
    entity.add_exception(_SpanError(_short(message, METADATA_CHARS)), stack)
    cause = entity.cause
    if isinstance(cause, dict) and cause.get("exceptions"):
        cause["exceptions"][-1].type = kind


class _SpanError(Exception):
    """Carries a masked message to the SDK, which reads an exception's type and text."""


# ----------------------------------------------------------------------------- helpers


def _guarded(function: Callable[..., Any], *args: Any) -> None:
    try:
        function(*args)
    except Exception:
        log.warning("X-Ray: %s failed", function.__name__.lstrip("_"), exc_info=True)


def _name(name: str) -> str:
    return name[:NAME_CHARS]


def _short(value: Any, limit: int) -> Any:
    return value[:limit] if isinstance(value, str) else value


def _clip(value: Any) -> Any:
    if isinstance(value, str):
        return value[:METADATA_CHARS]
    if isinstance(value, dict):
        return {str(key): _clip(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_clip(item) for item in value[:50]]
    return value
