"""ModelStep: one model call of a run — context, routing, budget, the streamed call, and the
tool calls it asked for, validated before anything runs.

Idempotent: the step's outcome is stored on the run, so a redelivered invocation returns it
without calling the model again; a retried attempt (after a failure mid-stream) gets the next
attempt number, its own lane of event ids, and first tells readers to discard what the
earlier attempt streamed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from podium.engine import ui_stream as ui
from podium.engine.agents import PinnedAgent
from podium.engine.aio import run_coroutine
from podium.engine.context import (
    RunIds,
    change_run,
    counted,
    end_wait,
    hold_lease,
    load_run,
    mark_cancelled_if_requested,
    usage_key,
)
from podium.engine.eventlog import EventWriter
from podium.engine.runtime import Runtime
from podium.errors import BudgetExceededError, ConflictError, ModelError
from podium.models import types as mt
from podium.observe.redact import Redactor
from podium.observe.spans import RUN_SPAN, SpanRecorder, model_span_id, step_span_id
from podium.protocol.agent import Agent
from podium.protocol.bounds import lease_seconds
from podium.protocol.failures import ModelFailed, ModelRetryable, RunCancelled
from podium.protocol.variables import render
from podium.store.models import Message, Run, Session, Usage

log = logging.getLogger(__name__)
T = TypeVar("T")

MAX_INLINE_ARGUMENTS = 64 * 1024
REDACTION_WINDOW = 128
"""Characters of streamed text held back when an agent redacts patterns (a match up to this
long is redacted even when the provider splits it across chunks)."""


class RunCancelledError(Exception):
    """The run was cancelled while its step was streaming."""


@dataclass
class _Sink:
    """Maps model stream events to UI-stream parts, and notices a cancel."""

    rt: Runtime
    ids: RunIds
    writer: EventWriter
    text_id: str
    reasoning_id: str
    redactor: Redactor | None = None
    calls: dict[int, str] = field(default_factory=dict)
    """The step's calls by their index in the answer: the id each is known by (unique)."""
    used_ids: set[str] = field(default_factory=set)
    """Call ids the run already used: a provider that repeats one gets it made unique."""
    text_open: bool = False
    reasoning_open: bool = False
    first_output_at: float | None = None
    _held: str = ""
    _checked_at: float = field(default_factory=time.monotonic)

    _flush_pending: bool = False
    _flush_failed: BaseException | None = None

    async def __call__(self, event: mt.StreamEvent) -> None:
        if self._flush_failed is not None:  # the log could not be written: stop the stream
            raise self._flush_failed
        self._check_cancel()
        self._handle(event)
        self._flush_soon()

    def _flush_soon(self) -> None:
        """Each stream event reaches readers at once: the writer flushes as soon as the
        stream waits for the network again, so the parts of one network read are one store
        write (with a batching window, as in AWS, the window decides)."""
        if self.writer.batch_ms > 0:
            self.writer.tick()
        elif not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush_due)

    def _flush_due(self) -> None:
        """The queued flush (a loop callback: a failure is kept, and raised by the stream's
        next event or by `follow`; the events stay pending in the writer)."""
        if self._flush_pending:
            self._flush_pending = False
            try:
                self.writer.flush()
            except Exception as exc:  # re-raised where the stream runs
                self._flush_failed = exc

    async def follow(self, call: Coroutine[Any, Any, T]) -> T:
        """Await the model call, then write what it streamed, on the loop's thread: after
        this the writer is the caller's alone (a flush still queued on the loop is void). A
        failed write fails the call; the call's own failure is never hidden by one."""
        try:
            result = await call
        except BaseException:
            self._flush_pending = False
            with contextlib.suppress(Exception):  # the call's error is the one to report
                self.writer.flush()
            raise
        self._flush_pending = False
        if self._flush_failed is not None:
            raise self._flush_failed
        self.writer.flush()
        return result

    def _handle(self, event: mt.StreamEvent) -> None:
        if isinstance(event, mt.TextDelta):
            self._close_reasoning()
            if not self.text_open:
                self.writer.emit(ui.text_start(self.text_id))
                self.text_open = True
            self._text(event.delta)
        elif isinstance(event, mt.ReasoningDelta):
            if not self.reasoning_open:
                self.writer.emit(ui.reasoning_start(self.reasoning_id))
                self.reasoning_open = True
            self.writer.emit(ui.reasoning_delta(self.reasoning_id, event.delta))
        elif isinstance(event, mt.ToolCallStart):
            self.calls[event.index] = unique_id(event.id, self.used_ids)
            self.writer.emit(ui.tool_input_start(self.calls[event.index], event.name))
        elif isinstance(event, mt.ToolCallDelta) and event.index in self.calls:
            if self.redactor is None or not self.redactor.paths:
                # with field redaction, arguments are only shown whole (and redacted) once
                # complete: a fragment could carry a redacted value past the rules
                self.writer.emit(
                    ui.tool_input_delta(self.calls[event.index], event.arguments_fragment)
                )
        elif isinstance(event, mt.Notice):
            if event.kind == "repair" and self.text_open:
                # the answer failed the output schema: what follows replaces it
                self.close()
                self.writer.emit(ui.data(ui.DATA_DISCARD, {"part": self.text_id}))
                self.text_id = f"{self.text_id}-repair"
            self.writer.emit(
                ui.data(
                    ui.DATA_NOTICE,
                    {"kind": event.kind, "message": event.message, **event.detail},
                    transient=False,
                )
            )
        if self.first_output_at is None and isinstance(event, mt.OUTPUT_EVENTS):
            self.first_output_at = time.time()

    def _text(self, delta: str, *, final: bool = False) -> None:
        """Emit text; with redaction patterns, hold back a window so that a match split
        across chunks is still whole when the writer redacts it."""
        pattern = self.redactor.pattern if self.redactor is not None else None
        if pattern is None:
            if delta:
                self.writer.emit(ui.text_delta(self.text_id, delta))
            return
        self._held += delta
        cut = len(self._held) if final else len(self._held) - REDACTION_WINDOW
        for match in pattern.finditer(self._held):
            if match.start() < cut < match.end():
                cut = match.start()
        if cut > 0:
            self.writer.emit(ui.text_delta(self.text_id, self._held[:cut]))
            self._held = self._held[cut:]

    def close(self) -> None:
        self._close_reasoning()
        if self.text_open:
            self._text("", final=True)
            self.writer.emit(ui.text_end(self.text_id))
            self.text_open = False

    def _close_reasoning(self) -> None:
        if self.reasoning_open:
            self.writer.emit(ui.reasoning_end(self.reasoning_id))
            self.reasoning_open = False

    def _check_cancel(self) -> None:
        if self.ids.run_id in self.rt.cancelled:
            raise RunCancelledError
        now = time.monotonic()
        if now - self._checked_at >= self.rt.cancel_poll_s:
            self._checked_at = now
            run = self.rt.store.get_run(self.ids.tenant, self.ids.session_id, self.ids.run_id)
            if run.status == "cancelled":
                raise RunCancelledError


def model_step(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    ids = RunIds.from_payload(payload)
    number = int(payload.get("after_step", 0)) + 1
    pinned = rt.agents.pinned(ids.agent, ids.agent_hash)
    agent = pinned.agent
    session: Session | None = None
    for tries in range(10):  # other writers (the run's execution reference, approvals)
        run = load_run(rt, ids)
        mark_cancelled_if_requested(rt, run)
        if run.step == number and run.step_result is not None:
            return state_view(run.step_result)  # a redelivery: the step already happened
        session = session or hold_lease(rt, ids, lease_seconds(agent))
        attempt = run.step_attempt + 1 if run.step == number else 0
        now = rt.clock()
        try:
            run = rt.store.update_run(
                run.model_copy(update={"step": number, "step_attempt": attempt,
                                       "status": "running", "updated_at": now,
                                       **end_wait(run, now)}),
                expected_version=run.version,
            )  # fmt: skip
            break
        except ConflictError:
            if tries == 9:
                raise
    assert session is not None
    redact = Redactor(agent.redact)
    writer = EventWriter(
        rt.store,
        ids.tenant,
        ids.session_id,
        ids.run_id,
        number,
        attempt,
        batch_ms=rt.event_batch_ms,
        redact=redact,
        ttl_s=_days(agent.retention.events_days),
        auto_flush=False,
    )
    spans = SpanRecorder(
        rt.store, ids.tenant, ids.session_id, ids.run_id, redact=redact, clock=rt.clock,
        defer=True,
    )  # fmt: skip
    try:
        outcome = _step(
            rt, ids, pinned, run, session, number=number, attempt=attempt, writer=writer,
            spans=spans,
        )  # fmt: skip
    except BaseException:
        with contextlib.suppress(Exception):  # the step's own error is the one to report
            spans.flush()
        raise
    spans.flush()  # the step's finished spans, in one write (done already when it ended)
    return outcome


def _step(
    rt: Runtime, ids: RunIds, pinned: PinnedAgent, run: Run, session: Session, *, number: int,
    attempt: int, writer: EventWriter, spans: SpanRecorder,
) -> dict[str, Any]:  # fmt: skip
    agent = pinned.agent
    if attempt > 0:
        writer.emit(ui.data(ui.DATA_DISCARD, {"step": number, "attempts": list(range(attempt))}))
    stop = _limit_reached(rt, agent, number, run)
    if stop is not None:
        writer.flush()
        return _finish_step(
            rt, ids, number, {"number": number, "next": "fail", "calls": [], "error": stop}, spans
        )
    step_span = spans.start(
        step_span_id(number),
        "step",
        f"step {number}",
        parent_id=RUN_SPAN,
        attributes={"step": number, "attempt": attempt},
    )
    writer.emit(ui.start_step())
    try:
        try:
            outcome = _call(
                rt, ids, pinned, session, run_usage=run.usage, number=number, attempt=attempt,
                writer=writer, spans=spans, step_span=step_span.span_id,
            )  # fmt: skip
        finally:
            writer.flush()  # what was streamed before a failure stays in the log
    except RunCancelledError:
        writer.flush()
        spans.end(step_span, status="error", error={"Error": "Podium.Cancelled"})
        raise RunCancelled("the run was cancelled") from None
    except ModelError as exc:
        writer.flush()
        spans.end(step_span, status="error", error={"Error": exc.code, "Cause": exc.message})
        if exc.details.get("streamed"):
            writer.emit(ui.data(ui.DATA_NOTICE, {"kind": "stream-error", "message": exc.message}))
            writer.flush()
            raise ModelRetryable(exc.message) from None
        raise ModelFailed(exc.message) from None
    except BudgetExceededError as exc:
        writer.emit(ui.data(ui.DATA_NOTICE, {"kind": "budget-stop", "message": exc.message}))
        writer.flush()
        spans.end(
            step_span,
            status="error",
            error={"Error": "Podium.BudgetExceeded", "Cause": exc.message},
        )
        return _finish_step(
            rt,
            ids,
            number,
            {
                "number": number,
                "next": "fail",
                "calls": [],
                "error": {"Error": "Podium.BudgetExceeded", "Cause": exc.message},
            },
            spans,
        )
    spans.end(step_span, attributes={"next": outcome["next"], "tool_calls": len(outcome["calls"])})
    writer.flush()
    return _finish_step(rt, ids, number, outcome, spans)


def _call(
    rt: Runtime,
    ids: RunIds,
    pinned: PinnedAgent,
    session: Session,
    *,
    run_usage: Usage,
    number: int,
    attempt: int,
    writer: EventWriter,
    spans: SpanRecorder,
    step_span: str,
) -> dict[str, Any]:
    """Build the context, choose the model, call it, store the answer; return the outcome."""
    from podium.models.budget import check_step_budget  # noqa: PLC0415
    from podium.models.fallbacks import call_with_fallbacks, tool_specs  # noqa: PLC0415
    from podium.models.routing import choose_model  # noqa: PLC0415
    from podium.models.tokens import count_tokens, estimate_tokens  # noqa: PLC0415

    agent = pinned.agent
    messages, context_tokens = _context(rt, ids, pinned, session)
    decision = choose_model(agent, number, number > 1, context_tokens)
    specs = tool_specs(agent.tools)
    tool_tokens = estimate_tokens([], specs)

    def window_tokens(model: str, counted: Any, tools: Any = ()) -> int:
        """The window was counted while it was built: no need to count it again."""
        if counted is messages:
            return context_tokens + (tool_tokens if tools else 0)
        return count_tokens(model, counted, tools)

    budget = check_step_budget(
        agent, decision.alias_or_model, messages, specs,
        run_cost_usd=run_usage.cost_usd, session_cost_usd=session.usage.cost_usd,
        count=window_tokens,
    )  # fmt: skip
    alias = decision.alias_or_model
    if budget.action == "stop":
        raise BudgetExceededError(budget.reason)
    if budget.action == "downgrade":
        alias = budget.alias
        writer.emit(ui.data(ui.DATA_NOTICE, {"kind": "budget-downgrade", "message": budget.reason}))
    reason = decision.reason if alias == decision.alias_or_model else budget.reason
    model = agent.resolve_model(alias).model
    writer.emit(
        ui.data(ui.DATA_ROUTING, {"step": number, "model": model, "alias": alias, "reason": reason})
    )
    sink = _Sink(
        rt,
        ids,
        writer,
        text_id=f"text-{number}-{attempt}",
        reasoning_id=f"reasoning-{number}-{attempt}",
        redactor=Redactor(agent.redact),
        used_ids=_call_ids(messages),
    )
    started = time.time()
    metadata = {"session_id": ids.session_id, "run_id": ids.run_id, "step": str(number)}
    try:
        result = run_coroutine(sink.follow(call_with_fallbacks(
            agent, alias, messages, specs, on_event=sink, retry=rt.model_retry,
            metadata=metadata)))  # fmt: skip
    except ModelError as exc:
        _record_model_span(
            spans,
            number,
            attempt,
            model=model,
            reason=reason,
            started=started,
            attempts=exc.details.get("attempts", []),
            error=exc.message,
        )
        raise
    finally:
        sink.close()
    result = _with_unique_call_ids(result, sink)
    _record_model_span(
        spans,
        number,
        attempt,
        model=result.model,
        reason=reason,
        started=started,
        result=result,
        attempts=[a.model_dump() for a in result.attempts],
    )
    spans.flush()  # the call's span first: usage is never counted without the span showing it
    rt.store.add_run_usage(
        ids.tenant,
        ids.session_id,
        ids.run_id,
        _usage(result.usage),
        agent=agent.name,
        model=result.model,
        idempotency_key=usage_key(ids.run_id, number, attempt),
    )
    writer.emit(
        ui.data(ui.DATA_USAGE, {"step": number, "model": result.model, **_usage_view(result.usage)})
    )
    if ids.run_id in rt.cancelled:  # cancelled while the last tokens came in
        raise RunCancelledError
    calls, rejected = _validate_calls(agent, result.tool_calls, writer)
    stored = rt.store.append_message(
        ids.tenant, ids.session_id,
        counted(Message(role="assistant", run_id=ids.run_id, **_assistant_fields(result)), agent),
        idempotency_key=f"{ids.run_id}:{number}:assistant",
    )  # fmt: skip
    if not result.tool_calls:
        writer.emit(ui.finish_step())
        return {"number": number, "next": "end", "calls": []}
    return {"number": number, "next": "tools", "calls": calls, "rejected": rejected,
            "message_seq": stored.seq}  # fmt: skip


def _context(
    rt: Runtime, ids: RunIds, pinned: PinnedAgent, session: Session
) -> tuple[list[dict[str, Any]], int]:
    from podium.models.tokens import count_tokens  # noqa: PLC0415
    from podium.store.context import build_context  # noqa: PLC0415

    agent = pinned.agent
    model = agent.resolve_model(agent.model).model
    policy = agent.context
    summarizer = None
    summary_model = None
    if policy.strategy == "summarize" and policy.summary_model is not None:
        summary_model = agent.resolve_model(policy.summary_model).model
        summarizer = _summarizer(rt, agent, policy.summary_model)
    window = build_context(
        rt.store, ids.tenant, ids.session_id,
        system_prompt=render(pinned.system_template, session.input_vars) or None,
        budget_tokens=policy.max_tokens, model=model,
        token_counter=lambda messages: count_tokens(model, messages),
        strategy="summarize" if summarizer is not None else "window",
        summarizer=summarizer, summary_model=summary_model,
        cache=rt.message_cache, last_seq=session.last_seq, session_created=session.created_at,
    )  # fmt: skip
    return window.messages, window.tokens


def _summarizer(rt: Runtime, agent: Agent, alias: str) -> Any:
    from podium.models.fallbacks import call_with_fallbacks  # noqa: PLC0415

    def summarize(messages: list[dict[str, Any]]) -> str:
        prompt = [
            {"role": "system", "content": "Summarise the conversation below for your own later "
             "use: keep facts, decisions, names, numbers and open questions. Be concise."},
            {"role": "user", "content": json.dumps(messages, ensure_ascii=False)[:200_000]},
        ]  # fmt: skip
        result = run_coroutine(
            call_with_fallbacks(agent, alias, prompt, [], stream=False, retry=rt.model_retry)
        )
        return result.text

    return summarize


def unique_id(wanted: str, used: set[str]) -> str:
    """`wanted`, or `wanted-2`, `wanted-3`… if it is taken; the id returned is taken now."""
    candidate, n = wanted, 2
    while candidate in used:
        candidate, n = f"{wanted}-{n}", n + 1
    used.add(candidate)
    return candidate


def _call_ids(messages: list[dict[str, Any]]) -> set[str]:
    """The call ids the conversation so far uses."""
    return {
        str(call.get("id"))
        for message in messages
        if message.get("role") == "assistant"
        for call in message.get("tool_calls") or []
    }


def _with_unique_call_ids(result: mt.ModelResult, sink: _Sink) -> mt.ModelResult:
    """The answer's calls under the ids the stream announced them by (made unique there);
    calls the stream did not announce get unique ids here. Each call keeps its own result."""
    announced = [sink.calls[index] for index in sorted(sink.calls)]
    if len(announced) != len(result.tool_calls):
        announced = [unique_id(call.id, sink.used_ids) for call in result.tool_calls]
    if all(call.id == new for call, new in zip(result.tool_calls, announced, strict=True)):
        return result
    calls = [call.model_copy(update={"id": new})
             for call, new in zip(result.tool_calls, announced, strict=True)]  # fmt: skip
    return result.model_copy(update={"tool_calls": calls})


def _validate_calls(
    agent: Agent, tool_calls: list[mt.ToolCallResult], writer: EventWriter
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split the model's calls into those that may run and those rejected at once (unknown
    tool, arguments that are not JSON or fail the tool's schema, one call too many). An
    accepted call is a reference, `{call_id, name}`: its arguments stay in the assistant
    message, where the tool's task reads them, so no step's state grows with them."""
    from jsonschema import Draft202012Validator  # noqa: PLC0415

    accepted: list[dict[str, Any]] = []
    rejected: list[dict[str, Any]] = []
    most = agent.limits.max_tool_calls_per_step
    for call in tool_calls:
        tool = agent.tool(call.name)
        problem: str | None = None
        try:
            arguments = json.loads(call.arguments_json or "{}")
        except json.JSONDecodeError as exc:
            arguments, problem = call.arguments_json, f"arguments are not valid JSON: {exc.msg}"
        if tool is None:
            problem = f"unknown tool {call.name!r}"
        elif problem is None:
            errors = sorted(
                Draft202012Validator(tool.parameters).iter_errors(arguments),
                key=lambda e: list(e.path),
            )
            if not isinstance(arguments, dict):
                problem = "arguments must be a JSON object"
            elif errors:
                where = "/".join(map(str, errors[0].path)) or "(root)"
                problem = f"invalid arguments at {where}: {errors[0].message}"
        if problem is None and len(call.arguments_json) > MAX_INLINE_ARGUMENTS:
            problem = f"arguments larger than {MAX_INLINE_ARGUMENTS} bytes"
        if problem is None and len(accepted) >= most:
            problem = (f"more than {most} tool calls in one step (max_tool_calls_per_step): "
                       "make this call again in your next step")  # fmt: skip
        if problem is not None:
            writer.emit(ui.tool_input_error(call.id, call.name, arguments, problem))
            rejected.append({"call_id": call.id, "name": call.name[:200], "error": problem})
            continue
        writer.emit(ui.tool_input_available(call.id, call.name, arguments))
        assert tool is not None
        if tool.approval_policy is not None:
            writer.emit(ui.tool_approval_request(call.id))
        accepted.append({"call_id": call.id, "name": call.name})
    return accepted, rejected


def state_view(outcome: dict[str, Any]) -> dict[str, Any]:
    """What of a step's stored outcome travels in the machine's state: its number, where the
    run goes next, the calls by reference, and why it stops. Rejected calls and the assistant
    message's place stay in the store (the run's `step_result`)."""
    view: dict[str, Any] = {
        key: outcome[key] for key in ("number", "next", "calls", "error") if key in outcome
    }
    view["calls"] = [{"call_id": c["call_id"], "name": c["name"]} for c in view.get("calls", [])]
    return view


def _assistant_fields(result: mt.ModelResult) -> dict[str, Any]:
    message = result.assistant_message()
    return {"content": message.get("content"), "tool_calls": message.get("tool_calls")}


def _usage(usage: mt.Usage) -> Usage:
    return Usage(
        requests=1,
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        cached_tokens=usage.cached_tokens,
        reasoning_tokens=usage.reasoning_tokens,
        cost_micro_usd=round(usage.cost_usd * 1_000_000),
    )


def _usage_view(usage: mt.Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "cost_usd": round(usage.cost_usd, 8),
        "priced": usage.priced,
    }


def _record_model_span(
    spans: SpanRecorder, number: int, attempt: int, *, model: str, reason: str, started: float,
    result: mt.ModelResult | None = None, attempts: list[dict[str, Any]], error: str | None = None,
) -> None:  # fmt: skip
    ended = time.time()
    span_id = model_span_id(number, attempt)
    cursor = started
    for index, item in enumerate(attempts):
        duration = float(item.get("duration_ms", 0.0)) / 1000
        spans.record(f"{span_id}-a{index}", "attempt", f"{item.get('model')} attempt {index + 1}",
                     parent_id=span_id, start=cursor, end=min(ended, cursor + duration),
                     status="ok" if item.get("outcome") == "ok" else "error",
                     error=None if item.get("outcome") == "ok" else {"Error": item.get("error")},
                     attributes=item)  # fmt: skip
        cursor = min(ended, cursor + duration)
    attributes: dict[str, Any] = {
        "model": model,
        "routing_reason": reason,
        "step": number,
        "attempt": attempt,
        "attempts": len(attempts),
    }
    if result is not None:
        attributes |= {
            **_usage_view(result.usage),
            "finish_reason": result.finish_reason,
            "latency_ms": round(result.latency_ms, 2),
            "ttft_ms": None if result.ttft_ms is None else round(result.ttft_ms, 2),
        }
    spans.record(span_id, "model", model, parent_id=step_span_id(number), start=started,
                 end=ended, status="error" if error else "ok",
                 error={"Error": "ModelError", "Cause": error} if error else None,
                 attributes=attributes)  # fmt: skip


def _limit_reached(rt: Runtime, agent: Agent, number: int, run: Run) -> dict[str, str] | None:
    if number > agent.limits.max_steps:
        return {
            "Error": "Podium.MaxSteps",
            "Cause": f"the run needed more than max_steps ({agent.limits.max_steps}) steps",
        }
    now = rt.clock()
    worked = run.work_seconds(now) if run.started_at is not None else now - run.created_at
    if worked > agent.limits.max_run_seconds:
        return {"Error": "Podium.MaxRunSeconds",
                "Cause": f"the run worked longer than max_run_seconds "
                         f"({agent.limits.max_run_seconds}; waits on people and callers "
                         "are not counted)"}  # fmt: skip
    return None


def _finish_step(
    rt: Runtime, ids: RunIds, number: int, outcome: dict[str, Any], spans: SpanRecorder
) -> dict[str, Any]:
    """Store the outcome on the run, so a redelivered invocation returns it unchanged (the
    step's spans first: a redelivery does not write them again)."""
    spans.flush()
    change_run(rt, ids.tenant, ids.session_id, ids.run_id, lambda run: None
               if run.step != number else {"step_result": outcome})  # fmt: skip
    return state_view(outcome)


def _days(days: int | None) -> float | None:
    return None if days is None else days * 86_400.0
