"""OpenTelemetry export of a run's trace, with the GenAI semantic conventions.

When `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set, every
run's spans are sent over OTLP/HTTP when the run ends: the run as `invoke_agent <agent>`,
each model call as `chat <model>` (`gen_ai.request.model`, `gen_ai.usage.input_tokens`, …),
each tool call as `execute_tool <tool>`, with Podium's own figures (cost, routing reason,
attempts) as `podium.*` attributes. The trace id is derived from the run id, so the same run
always lands in the same trace. The spans were redacted before they were stored; nothing
else is sent.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.store.models import Span

log = logging.getLogger(__name__)

ENDPOINT_ENV = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
_provider: Any = None
_lock = threading.Lock()


def enabled() -> bool:
    return any(os.environ.get(name) for name in ENDPOINT_ENV)


def _tracer_provider() -> Any:
    global _provider  # noqa: PLW0603 - one provider per process
    with _lock:
        if _provider is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                OTLPSpanExporter,
            )
            from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
            from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
            from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

            service = os.environ.get("OTEL_SERVICE_NAME", "podium")
            provider = TracerProvider(resource=Resource.create({"service.name": service}))
            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            _provider = provider
        return _provider


def export_run(spans: list[Span], *, agent: str, session_id: str) -> int:
    """Send one run's spans; returns how many. Failures are logged, never raised."""
    if not enabled() or not spans:
        return 0
    try:
        return _export(spans, agent=agent, session_id=session_id)
    except Exception:  # telemetry must never fail a run
        log.exception("run_id=%s | OpenTelemetry export failed", spans[0].run_id)
        return 0


def _export(spans: list[Span], *, agent: str, session_id: str) -> int:
    from opentelemetry import trace  # noqa: PLC0415
    from opentelemetry.trace import (  # noqa: PLC0415
        NonRecordingSpan,
        SpanContext,
        Status,
        StatusCode,
        TraceFlags,
    )

    provider = _tracer_provider()
    tracer = provider.get_tracer("podium")
    trace_id = int.from_bytes(hashlib.sha256(spans[0].run_id.encode()).digest()[:16], "big")
    root = SpanContext(trace_id=trace_id, span_id=int.from_bytes(
        hashlib.sha256(b"root" + spans[0].run_id.encode()).digest()[:8], "big"),
        is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))  # fmt: skip
    by_id = {span.span_id: span for span in spans}
    made: dict[str, Any] = {}

    def context_of(span: Span) -> Any:
        parent = by_id.get(span.parent_id or "")
        if parent is None:
            return trace.set_span_in_context(NonRecordingSpan(root))
        if parent.span_id not in made:
            open_span(parent)
        return trace.set_span_in_context(made[parent.span_id])

    def open_span(span: Span) -> None:
        name, attributes, kind = _describe(span, agent, session_id)
        otel = tracer.start_span(
            name,
            context=context_of(span),
            kind=kind,
            start_time=int(span.start * 1e9),
            attributes=attributes,
        )
        made[span.span_id] = otel

    for span in sorted(spans, key=lambda s: s.start):
        if span.span_id not in made:
            open_span(span)
    for span in spans:
        otel = made[span.span_id]
        if span.status == "error":
            error = span.error or {}
            otel.set_status(Status(StatusCode.ERROR, str(error.get("Error", "error"))))
            otel.set_attribute("error.type", str(error.get("Error", "error")))
        otel.end(end_time=int((span.end or span.start) * 1e9))
    provider.force_flush()
    return len(spans)


def _describe(span: Span, agent: str, session_id: str) -> tuple[str, dict[str, Any], Any]:
    from opentelemetry.trace import SpanKind  # noqa: PLC0415

    attributes = span.attributes or {}
    base: dict[str, Any] = {
        "podium.run_id": span.run_id,
        "podium.session_id": session_id,
        "podium.span_kind": span.kind,
        "gen_ai.agent.name": agent,
    }
    if span.kind == "run":
        return (
            f"invoke_agent {agent}",
            {**base, "gen_ai.operation.name": "invoke_agent", **_numbers(attributes, "podium.")},
            SpanKind.INTERNAL,
        )
    if span.kind == "model":
        model = str(attributes.get("model", span.name))
        provider, _, name = model.partition("/")
        genai = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": provider if name else "openai",
            "gen_ai.system": provider if name else "openai",
            "gen_ai.request.model": name or model,
            "gen_ai.response.model": name or model,
            "gen_ai.usage.input_tokens": int(attributes.get("input_tokens", 0)),
            "gen_ai.usage.output_tokens": int(attributes.get("output_tokens", 0)),
            "podium.cost_usd": float(attributes.get("cost_usd", 0.0)),
            "podium.routing_reason": str(attributes.get("routing_reason", "")),
        }
        if attributes.get("finish_reason"):
            genai["gen_ai.response.finish_reasons"] = [str(attributes["finish_reason"])]
        if attributes.get("ttft_ms") is not None:
            genai["podium.ttft_ms"] = float(attributes["ttft_ms"])
        return f"chat {name or model}", {**base, **genai}, SpanKind.CLIENT
    if span.kind in {"tool", "approval"}:
        tool = str(attributes.get("tool", span.name))
        return f"execute_tool {tool}", {
            **base, "gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": tool,
            "gen_ai.tool.call.id": str(attributes.get("call_id", "")),
            "podium.tool.outcome": str(attributes.get("outcome", "")),
            "podium.tool.attempts": int(attributes.get("attempts", 1)),
        }, SpanKind.INTERNAL  # fmt: skip
    return span.name, {**base, **_numbers(attributes, "podium.")}, SpanKind.INTERNAL


def _numbers(attributes: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {
        f"{prefix}{k}": v
        for k, v in attributes.items()
        if isinstance(v, int | float | str | bool) and not isinstance(v, dict)
    }
