"""The run's ends: BeginRun, EndRun, FailRun, and the reconciler that closes runs ended
outside the machine's own Catch (cancelled, timed out, crashed).

Whatever way a run ends, the same `_close` marks it, keeps the conversation valid (a tool
call without a result gets one), writes the final events, releases the session's lease and
starts the next queued input: nothing is left running.
"""

from __future__ import annotations

import logging
from typing import Any

from podium.engine import ui_stream as ui
from podium.engine.context import (
    RunIds,
    change_run,
    clear_pending,
    end_wait,
    hold_lease,
    load_run,
    settle_usage,
)
from podium.engine.eventlog import BEGIN_LANE, END_LANE, FAIL_LANE, EventWriter
from podium.engine.runtime import Runtime
from podium.errors import ConflictError, NotFoundError
from podium.observe.redact import Redactor
from podium.observe.spans import RUN_SPAN, SpanRecorder
from podium.protocol.bounds import lease_seconds
from podium.protocol.failures import CANCELLED_ERROR, RunCancelled
from podium.store.ids import parse_event_id
from podium.store.models import Message, QueuedInput, Run, Span

log = logging.getLogger(__name__)

INPUT_KEY = "{run}:input"


def begin_run(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Verify this run holds the session's lease, append the user's input, say `start`."""
    ids = RunIds.from_payload(payload)
    run = load_run(rt, ids)
    if run.terminal:
        raise RunCancelled(f"the run is already {run.status}")
    pinned = rt.agents.pinned(ids.agent, ids.agent_hash)
    hold_lease(rt, ids, lease_seconds(pinned.agent))
    redact = Redactor(pinned.agent.redact)
    rt.store.append_message(
        ids.tenant, ids.session_id,
        Message(role="user", content=run.input, run_id=ids.run_id),
        idempotency_key=INPUT_KEY.format(run=ids.run_id),
    )  # fmt: skip
    if run.status == "queued" or run.started_at is None:  # the run clock starts now
        now = rt.clock()
        change_run(rt, ids.tenant, ids.session_id, ids.run_id, lambda current: None
                   if current.started_at is not None and current.status != "queued"
                   else {"status": "running", "started_at": current.started_at or now},
                   known=run)  # fmt: skip
    writer = EventWriter(
        rt.store,
        ids.tenant,
        ids.session_id,
        ids.run_id,
        *BEGIN_LANE,
        redact=redact,
        auto_flush=False,
    )
    writer.emit(ui.start(ids.run_id, {"session_id": ids.session_id, "agent": ids.agent}))
    writer.emit(ui.data(ui.DATA_RUN, {"run_id": ids.run_id, "status": "running"}))
    writer.flush()
    span = _run_span(ids, run)
    SpanRecorder(rt.store, ids.tenant, ids.session_id, ids.run_id, clock=rt.clock).start(
        span.span_id, span.kind, span.name, start=span.start, attributes=span.attributes
    )
    return {"number": 0, "next": "model", "calls": []}


def _run_span(ids: RunIds, run: Run) -> Span:
    """The run's span as it starts (written by BeginRun, ended by the run's close)."""
    return Span(
        span_id=RUN_SPAN, run_id=ids.run_id, kind="run", name=f"run {ids.agent}",
        start=run.created_at, attributes={"agent": ids.agent, "agent_hash": ids.agent_hash},
    )  # fmt: skip


def end_run(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """The answer is in: the run succeeded."""
    ids = RunIds.from_payload(payload)
    answer, settled = _answer(rt, ids)
    _close(rt, ids, status="succeeded", output=answer, error=None, settled=settled)
    return {"status": "succeeded"}


def fail_run(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Any failure caught inside the machine: record it and close the run."""
    ids = RunIds.from_payload(payload)
    error = payload.get("error") or {}
    name = str(error.get("Error", "States.Runtime"))
    status = "cancelled" if name == CANCELLED_ERROR else "failed"
    _close(
        rt,
        ids,
        status=status,
        output=None,
        error={"Error": name, "Cause": str(error.get("Cause", ""))},
    )
    return {"status": status}


def finish_execution(
    rt: Runtime, execution_input: dict[str, Any], status: str, error: str | None,
    cause: str | None,
) -> None:  # fmt: skip
    """The reconciler: an execution ended (SUCCEEDED, FAILED, ABORTED, TIMED_OUT). Runs the
    machine already closed are left alone; the others are closed here."""
    ids = RunIds.from_payload(execution_input)
    try:
        run = load_run(rt, ids)
    except NotFoundError:
        log.warning("run_id=%s | finished execution of an unknown run", ids.run_id)
        return
    if run.terminal:
        return
    if status == "SUCCEEDED":
        _close(rt, ids, status="succeeded", output=_last_answer(rt, ids), error=None)
        return
    if status == "ABORTED" or error == CANCELLED_ERROR:
        _close(
            rt,
            ids,
            status="cancelled",
            output=_partial_output(rt, ids, run),
            error={"Error": CANCELLED_ERROR, "Cause": cause or "cancelled"},
        )
        return
    name = "States.Timeout" if status == "TIMED_OUT" else (error or "States.Runtime")
    _close(
        rt,
        ids,
        status="failed",
        output=_partial_output(rt, ids, run),
        error={"Error": name, "Cause": cause or status.lower()},
    )


def complete_interrupted(rt: Runtime, tenant: str, session_id: str, run_id: str) -> None:
    """Before a new input interrupts `run_id`, give its unanswered tool calls a result, so the
    new input follows a conversation every provider accepts."""
    try:
        run = rt.store.get_run(tenant, session_id, run_id)
    except NotFoundError:
        return
    if not run.terminal:
        ids = RunIds(tenant, session_id, run_id, run.agent, run.agent_hash)
        _complete_tool_results(rt, ids, run, "interrupted")


# ----------------------------------------------------------------------------- closing


def _close(
    rt: Runtime, ids: RunIds, *, status: str, output: Any, error: dict[str, str] | None,
    settled: bool = False,
) -> None:  # fmt: skip
    """Mark the run, then write its final events (a retry rewrites the same ids), end its
    span, and release the lease. Safe to repeat: a closed run keeps its first outcome.
    `settled`: the conversation is known to end with the run's answer (no call is open)."""
    run = load_run(rt, ids)
    if run.step > 0:  # a model call cut short of being counted is counted now
        run = settle_usage(rt, ids, run)
    began = run.status != "queued"  # BeginRun ran: the run's span exists
    repeated = run.terminal  # closed before (a retried or resumed close)
    pinned = rt.agents.pinned(ids.agent, ids.agent_hash)
    if not run.terminal:
        if not settled:
            _complete_tool_results(rt, ids, run, status)
        clear_pending(rt, ids, run)
        closing = {"status": status, "output": output, "error": error,
                   **end_wait(run, rt.clock())}  # fmt: skip
        run = change_run(rt, ids.tenant, ids.session_id, ids.run_id,
                         lambda current: None if current.terminal else closing,
                         known=run)  # fmt: skip
    # The lease goes back before `finish` is written: a client that sends its next input as
    # soon as it sees `finish` must find the session free. A queued input takes the lease in
    # the same write, but starts only after this run's last events, so they stay in id order.
    queued = _release(rt, ids)
    status, error = run.status, run.error
    usage = run.usage
    summary = {"input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens,
               "cached_tokens": usage.cached_tokens, "reasoning_tokens": usage.reasoning_tokens,
               "cost_usd": usage.cost_usd, "model_calls": usage.requests}  # fmt: skip
    lane = END_LANE if status == "succeeded" else FAIL_LANE
    writer = EventWriter(
        rt.store,
        ids.tenant,
        ids.session_id,
        ids.run_id,
        *lane,
        redact=Redactor(pinned.agent.redact),
        auto_flush=False,
    )
    writer.emit(ui.data(ui.DATA_USAGE, {"run_id": ids.run_id, "total": True, **summary}))
    writer.emit(
        ui.data(
            ui.DATA_RUN,
            {"run_id": ids.run_id, "status": status, **({"error": error} if error else {})},
        )
    )
    if status == "failed" and error is not None:
        writer.emit(ui.error(_error_text(error)))
    if status == "cancelled":
        writer.emit(ui.abort("cancelled"))
    reason: ui.FinishReason = (
        "stop" if status == "succeeded" else "other" if status == "cancelled" else "error"
    )
    writer.emit(ui.finish(reason, {"run_id": ids.run_id, "status": status}))
    writer.flush()
    if began and repeated:  # end the span and export once: not if an earlier close did
        stored = rt.store.list_spans(ids.tenant, ids.session_id, ids.run_id)
        ended = any(span.span_id == RUN_SPAN and span.end is not None for span in stored)
    else:
        ended = False
    if began and not ended:  # the run's span as BeginRun wrote it, ended at the run's close
        spans = SpanRecorder(rt.store, ids.tenant, ids.session_id, ids.run_id, clock=rt.clock)
        spans.end(
            _run_span(ids, run),
            status="ok" if status == "succeeded" else "error",
            error=error,
            end=run.updated_at,
            attributes={"status": status, **summary},
        )
        from podium.observe.finish import run_finished  # noqa: PLC0415

        run_finished(rt.store, ids.tenant, ids.session_id, run, agent=ids.agent)
    rt.cancelled.discard(ids.run_id)
    if queued is not None:
        _start_queued(rt, ids, queued)
    from podium import settings  # noqa: PLC0415

    if settings.resolve(None, settings.ENV_EVENT_BUS, ""):  # AWS: tell downstream consumers
        from podium.engine.triggers import publish_run_finished  # noqa: PLC0415

        publish_run_finished(ids, run)


def _release(rt: Runtime, ids: RunIds) -> QueuedInput | None:
    """Give the lease back, handing it to the next queued input (returned, to be started)."""
    try:
        return rt.store.release_session_lease(
            ids.tenant, ids.session_id, ids.run_id, handoff_ttl_s=_lease_ttl(rt, ids),
        )  # fmt: skip
    except (ConflictError, NotFoundError):  # not ours any more (interrupted, released)
        return None


def _start_queued(rt: Runtime, ids: RunIds, queued: QueuedInput) -> None:
    from podium.engine.runs import start_execution  # noqa: PLC0415 - runs imports steps

    log.info("run_id=%s next=%s | starting the next queued input", ids.run_id, queued.run_id)
    try:
        start_execution(rt, ids.tenant, ids.session_id, queued.run_id)
    except Exception:
        log.exception("run_id=%s | could not start the queued run", queued.run_id)


def _lease_ttl(rt: Runtime, ids: RunIds) -> float:
    return lease_seconds(rt.agents.pinned(ids.agent, ids.agent_hash).agent)


def _complete_tool_results(rt: Runtime, ids: RunIds, run: Run, status: str) -> None:
    """The last assistant message may ask for tools that never answered (cancel, failure):
    give each a result, or the conversation could not continue with any provider."""
    page = rt.store.list_messages(ids.tenant, ids.session_id, limit=50, newest_first=True)
    answered = {m.tool_call_id for m in page.items if m.role == "tool"}
    for message in page.items:
        if message.run_id != ids.run_id:
            break
        if message.role == "assistant" and message.tool_calls:
            for call in message.tool_calls:
                if call.get("id") in answered:
                    continue
                rt.store.append_message(
                    ids.tenant, ids.session_id,
                    Message(role="tool", tool_call_id=call.get("id"),
                            name=(call.get("function") or {}).get("name"), run_id=ids.run_id,
                            content=f"Error: the run was {status} before this tool finished."),
                    idempotency_key=f"{ids.run_id}:{call.get('id')}:result",
                )  # fmt: skip
            break


def _last_answer(rt: Runtime, ids: RunIds) -> dict[str, Any] | None:
    return _answer(rt, ids)[0]


def _answer(rt: Runtime, ids: RunIds) -> tuple[dict[str, Any] | None, bool]:
    """The run's answer (its last assistant message), and whether the conversation ends
    with it (no tool call of the run is left without a result)."""
    page = rt.store.list_messages(ids.tenant, ids.session_id, limit=5, newest_first=True)
    newest = page.items[0] if page.items else None
    settled = (
        newest is not None and newest.role == "assistant" and newest.run_id == ids.run_id
        and not newest.tool_calls
    )  # fmt: skip
    for message in page.items:
        if message.role == "assistant" and message.run_id == ids.run_id:
            text = message.content if isinstance(message.content, str) else ""
            answer: dict[str, Any] = {"text": text}
            pinned = rt.agents.pinned(ids.agent, ids.agent_hash)
            if pinned.agent.output is not None:
                from podium.models.structured import parse_output  # noqa: PLC0415

                parsed, _ = parse_output(pinned.agent.output, text)
                answer["parsed"] = parsed
            return answer, settled
    return None, settled


def _partial_output(rt: Runtime, ids: RunIds, run: Run) -> dict[str, Any] | None:
    """What the interrupted step had streamed, kept as the run's partial answer (and stored
    as an assistant message, so the conversation shows it)."""
    if run.step <= 0:
        return None
    events = _run_events(rt, ids)
    text = "".join(
        str(event.data.get("delta", ""))
        for event in events
        if event.type == "text-delta" and isinstance(event.data, dict)
        and parse_event_id(event.event_id)[1:3] == (run.step, run.step_attempt)
    )  # fmt: skip
    if not text:
        return None
    session = rt.store.get_session(ids.tenant, ids.session_id)
    still_ours = session.lease_holder(rt.clock()) in (None, ids.run_id)
    if run.step_result is None and still_ours:  # keep what was streamed, unless interrupted
        rt.store.append_message(
            ids.tenant, ids.session_id,
            Message(role="assistant", content=text, run_id=ids.run_id),
            idempotency_key=f"{ids.run_id}:{run.step}:assistant",
        )  # fmt: skip
    return {"text": text, "partial": True}


def _run_events(rt: Runtime, ids: RunIds) -> list[Any]:
    events: list[Any] = []
    after = None
    while True:
        page = rt.store.list_events(
            ids.tenant, ids.session_id, run_id=ids.run_id, after=after, limit=1000
        )
        events.extend(page)
        if len(page) < 1000:
            return events
        after = page[-1].event_id


def _error_text(error: dict[str, str]) -> str:
    cause = error.get("Cause", "")
    try:
        import json  # noqa: PLC0415

        body = json.loads(cause)
        if isinstance(body, dict) and "errorMessage" in body:
            cause = str(body["errorMessage"])
    except (ValueError, TypeError):
        pass
    return f"{error.get('Error')}: {cause}" if cause else str(error.get("Error"))
