"""Recording a run's spans (the trace) in the store, in DESIGN.md's one schema.

Span ids are deterministic (`step-0002`, `model-0002-01`, `tool-0002-<call>`), so a retried
handler rewrites its spans instead of adding new ones; a span is written when it starts and
again when it ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from podium.observe import xray
from podium.store.models import Span, SpanKind

if TYPE_CHECKING:
    from podium.store.base import Store

RUN_SPAN = "run"


def step_span_id(step: int) -> str:
    return f"step-{step:04d}"


def model_span_id(step: int, attempt: int) -> str:
    return f"model-{step:04d}-{attempt:02d}"


def tool_span_id(step: int, call_id: str) -> str:
    return f"tool-{step:04d}-{call_id}"


class SpanRecorder:
    """Writes one run's spans, redacting attributes first."""

    def __init__(
        self,
        store: Store,
        tenant: str,
        session_id: str,
        run_id: str,
        *,
        redact: Callable[[Any], Any] | None = None,
        clock: Callable[[], float] = time.time,
        defer: bool = False,
    ) -> None:
        """`defer`: spans that are over (`end`, `record`) wait for `flush()` and are written
        together (a handler writes its finished spans in one store write); a span that
        starts is written at once, so a live trace shows it running."""
        self.store = store
        self.tenant = tenant
        self.session_id = session_id
        self.run_id = run_id
        self.redact = redact or (lambda value: value)
        self.clock = clock
        self.defer = defer
        self._pending: dict[str, Span] = {}

    def _write(self, span: Span) -> None:
        if self.defer and span.end is not None:
            self._pending[span.span_id] = span
        else:
            self._pending.pop(span.span_id, None)
            self.store.put_span(self.tenant, self.session_id, span)

    def flush(self) -> None:
        """Write the spans that wait (see `defer`)."""
        if self._pending:
            spans, self._pending = list(self._pending.values()), {}
            self.store.put_spans(self.tenant, self.session_id, spans)

    def start(
        self,
        span_id: str,
        kind: SpanKind,
        name: str,
        *,
        parent_id: str | None = None,
        start: float | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        span = Span(
            span_id=span_id,
            parent_id=parent_id,
            run_id=self.run_id,
            kind=kind,
            name=name,
            start=self.clock() if start is None else start,
            attributes=self.redact(attributes or {}),
        )
        self._write(span)
        return span

    def end(
        self,
        span: Span,
        *,
        status: Literal["ok", "error"] = "ok",
        error: dict[str, Any] | None = None,
        end: float | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        done = span.model_copy(
            update={
                "end": self.clock() if end is None else end,
                "status": status,
                "error": None if error is None else self.redact(error),
                "attributes": {**span.attributes, **self.redact(attributes or {})},
            }
        )
        self._write(done)
        xray.span_finished(self, done)
        return done

    def record(
        self,
        span_id: str,
        kind: SpanKind,
        name: str,
        *,
        parent_id: str | None,
        start: float,
        end: float,
        status: Literal["ok", "error"] = "ok",
        error: dict[str, Any] | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Span:
        """Write a span that is already over (an attempt, a finished call)."""
        span = Span(
            span_id=span_id,
            parent_id=parent_id,
            run_id=self.run_id,
            kind=kind,
            name=name,
            start=start,
            end=end,
            status=status,
            error=None if error is None else self.redact(error),
            attributes=self.redact(attributes or {}),
        )
        self._write(span)
        xray.span_finished(self, span)
        return span
