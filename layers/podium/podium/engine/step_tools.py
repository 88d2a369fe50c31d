"""The tool side of a step: running a call (python/http), parking a call on a task token
(approvals, client tools), and RecordTools, which turns every call's outcome into a tool
message and an event, in call order, once the whole Map is done."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from podium.engine import ui_stream as ui
from podium.engine.context import (
    RunIds,
    begin_wait,
    change_run,
    clear_pending,
    end_wait,
    hold_lease,
    load_run,
    mark_cancelled_if_requested,
)
from podium.engine.eventlog import RECORD_ATTEMPT, EventWriter
from podium.engine.runtime import Runtime
from podium.engine.tools import (
    cap_text,
    output_key,
    output_text,
    package_output,
    run_tool_call,
    to_jsonable,
    unpack_output,
)
from podium.errors import ToolError
from podium.observe.redact import Redactor
from podium.observe.spans import SpanRecorder, step_span_id, tool_span_id
from podium.protocol.bounds import lease_seconds, wait_lease_seconds
from podium.protocol.failures import LambdaToolUnavailable, named_tool_error
from podium.store.ids import new_ulid
from podium.store.models import BlobRef, Message, PendingApproval, Run

log = logging.getLogger(__name__)

PREVIEW_BYTES = 16 * 1024
"""Largest output sent whole in a `tool-output-available` event; larger ones are previewed."""
MAX_ERROR_MESSAGE = 1000
"""Characters of a tool's error message kept in the failure the machine sees (it travels in
the Map's state with its siblings'); the attempt's span keeps as much."""


def run_tool(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Run one `python`, `http` or `lambda` call. A failure is raised again under the name of
    the tool's own error (its exception's class name; a `lambda` tool's `errorType`) with a
    message of bounded size, so the state's Retry and Catch match it as written and the
    Map's state stays small; every attempt is a span."""
    ids = RunIds.from_payload(payload)
    call = payload["call"]
    step = int(payload["step"])
    run = load_run(rt, ids)
    mark_cancelled_if_requested(rt, run)
    pinned = rt.agents.pinned(ids.agent, ids.agent_hash)
    tool = pinned.agent.tool(call["name"])
    if tool is None:
        raise ToolError(f"unknown tool {call['name']!r}")
    hold_lease(rt, ids, lease_seconds(pinned.agent))
    arguments = call_arguments(rt, ids, run, step, call["call_id"])
    spans = SpanRecorder(
        rt.store,
        ids.tenant,
        ids.session_id,
        ids.run_id,
        redact=Redactor(pinned.agent.redact),
        clock=rt.clock,
    )
    started = time.time()
    span_id = f"{tool_span_id(step, call['call_id'])}-a{new_ulid()}"
    key = output_key(ids.tenant, ids.session_id, ids.run_id, call["call_id"])
    try:
        if tool.kind == "lambda":
            packed = _invoke_lambda_tool(rt, ids, payload.get("function"), call, arguments)
        else:
            output = run_tool_call(pinned, tool, arguments)
            packed = package_output(output, blobs=rt.store.blobs, key=key)
    except Exception as exc:
        name = type(exc).__name__
        message = str(exc)[:MAX_ERROR_MESSAGE]
        spans.record(span_id, "attempt", f"{tool.name} attempt", parent_id=tool_span_id(
            step, call["call_id"]), start=started, end=time.time(), status="error",
            error={"Error": name, "Cause": message})  # fmt: skip
        log.info("run_id=%s tool=%s error=%s | tool attempt failed", ids.run_id, tool.name, name)
        raise named_tool_error(name)(message) from None
    spans.record(
        span_id,
        "attempt",
        f"{tool.name} attempt",
        parent_id=tool_span_id(step, call["call_id"]),
        start=started,
        end=time.time(),
    )
    return {"call_id": call["call_id"], "outcome": "ok", **packed}


def call_arguments(rt: Runtime, ids: RunIds, run: Run, step: int, call_id: str) -> dict[str, Any]:
    """A call's arguments, read from the step's assistant message (the machine's state
    carries only the call's id and tool name)."""
    result = run.step_result or {}
    seq = result.get("message_seq")
    if run.step != step or not isinstance(seq, int):
        raise ToolError(f"call {call_id!r} is not a call of the run's current step {run.step}")
    for message in rt.store.get_messages(ids.tenant, ids.session_id, seq, seq):
        for call in message.tool_calls or []:
            if call.get("id") == call_id:
                arguments = json.loads((call.get("function") or {}).get("arguments") or "{}")
                return dict(arguments) if isinstance(arguments, dict) else {}
    raise ToolError(f"call {call_id!r} is not in the step's assistant message")


def _invoke_lambda_tool(
    rt: Runtime, ids: RunIds, function: Any, call: dict[str, Any], arguments: dict[str, Any]
) -> dict[str, Any]:
    """Invoke a `lambda` tool's function with Podium's tool contract; its answer is
    `{output}` or `{output_ref}` (`podium.tool`), kept small for the Map's state."""
    if rt.lambda_tools is None or not isinstance(function, str) or function.startswith("${"):
        raise LambdaToolUnavailable(
            f"{call['name']}: lambda tools run in AWS; there is no Lambda to invoke here"
        )
    answer = rt.lambda_tools.invoke(function, {
        "call_id": call["call_id"], "name": call["name"], "arguments": arguments,
        "tenant": ids.tenant, "session_id": ids.session_id, "run_id": ids.run_id,
    })  # fmt: skip
    if isinstance(answer, dict) and answer.get("output_ref") is not None:  # stored already
        return {"output_ref": BlobRef.model_validate(answer["output_ref"]).model_dump()}
    output = answer.get("output") if isinstance(answer, dict) and "output" in answer else answer
    key = output_key(ids.tenant, ids.session_id, ids.run_id, call["call_id"])
    return package_output(to_jsonable(output), blobs=rt.store.blobs, key=key)


def await_callback(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Park a call on its task token: an approval request, or a client tool's execution. The
    run shows as waiting; the API answers with SendTaskSuccess/Failure."""
    ids = RunIds.from_payload(payload)
    call = payload["call"]
    run = load_run(rt, ids)
    mark_cancelled_if_requested(rt, run)
    kind = "approval" if payload.get("kind") == "approval" else "client"
    tool = rt.agents.pinned(ids.agent, ids.agent_hash).agent.tool(call["name"])
    if tool is None:
        raise ToolError(f"unknown tool {call['name']!r}")
    approval = tool.approval_policy
    waits = approval.timeout_s if kind == "approval" and approval else tool.timeout_s
    hold_lease(rt, ids, wait_lease_seconds(waits))  # held for as long as the wait may last
    arguments = call_arguments(rt, ids, run, int(payload["step"]), call["call_id"])
    rt.store.add_pending_approval(ids.tenant, ids.session_id, ids.run_id, PendingApproval(
        call_id=call["call_id"], tool=call["name"], arguments=arguments,
        task_token=payload["task_token"], kind=kind, requested_at=rt.clock()))  # fmt: skip
    now = rt.clock()
    change_run(rt, ids.tenant, ids.session_id, ids.run_id, lambda current: None
               if current.terminal or (current.status == "waiting" and current.waiting_since)
               else {"status": "waiting", **begin_wait(current, now)}, known=run)  # fmt: skip
    return {"call_id": call["call_id"], "waiting": kind}


def record_tools(rt: Runtime, payload: dict[str, Any]) -> dict[str, Any]:
    """Write one tool message per call of the step, in the order the model asked, and the
    matching event; calls rejected before the Map get their error here too. Replayed by a
    resumed run after the run has moved to a later step, it writes nothing (the run's step
    result is that later step's; this step's results were recorded before it began)."""
    ids = RunIds.from_payload(payload)
    step = int(payload["step"])
    run = load_run(rt, ids)
    mark_cancelled_if_requested(rt, run)
    if run.step > step:  # replayed after the run moved on: its results were recorded then
        return {"recorded": 0}
    pinned = rt.agents.pinned(ids.agent, ids.agent_hash)
    agent = pinned.agent
    hold_lease(rt, ids, lease_seconds(agent))
    _end_waits(rt, ids, run)
    redact = Redactor(agent.redact)
    writer = EventWriter(
        rt.store,
        ids.tenant,
        ids.session_id,
        ids.run_id,
        step,
        RECORD_ATTEMPT,
        batch_ms=rt.event_batch_ms,
        redact=redact,
        auto_flush=False,
    )
    spans = SpanRecorder(
        rt.store, ids.tenant, ids.session_id, ids.run_id, redact=redact, clock=rt.clock, defer=True
    )
    outcomes = {o.get("call_id"): o for o in payload.get("outcomes") or [] if isinstance(o, dict)}
    result = run.step_result or {}
    calls = list(result.get("calls", []))
    for rejected in result.get("rejected", []):
        outcomes[rejected["call_id"]] = {"outcome": "rejected", "error": rejected["error"]}
        calls.append(rejected)
    order = _call_order(rt, ids, step)
    calls.sort(key=lambda c: order.get(c["call_id"], len(order)))
    now = rt.clock()
    spans_so_far = rt.store.list_spans(ids.tenant, ids.session_id, ids.run_id)
    model_end = max((s.end or now for s in spans_so_far if s.kind == "model"
                     and s.parent_id == step_span_id(step)), default=now)  # fmt: skip
    for call in calls:
        call_id, name = call["call_id"], call["name"]
        tool = agent.tool(name)
        outcome = outcomes.get(
            call_id, {"outcome": "error", "error": {"Error": "Podium.Lost", "Cause": "no result"}}
        )
        content, part, status, error = _describe(
            rt, outcome, call_id, tool.max_output_bytes if tool else 1_000_000
        )
        rt.store.append_message(
            ids.tenant, ids.session_id,
            Message(role="tool", content=content, tool_call_id=call_id, name=name,
                    run_id=ids.run_id),
            idempotency_key=f"{ids.run_id}:{call_id}:result",
        )  # fmt: skip
        writer.emit(part)
        span_id = tool_span_id(step, call_id)
        attempts = [s for s in spans_so_far if s.parent_id == span_id]
        spans.record(span_id, "approval" if status == "denied" else "tool",
                     name, parent_id=step_span_id(step),
                     start=min((s.start for s in attempts), default=model_end),
                     end=max((s.end or now for s in attempts), default=rt.clock()),
                     status="ok" if status == "ok" else "error", error=error,
                     attributes={"tool": name, "call_id": call_id, "outcome": status,
                                 "arguments": call.get("arguments"), "attempts": len(attempts),
                                 "result_bytes": len(content.encode()),
                                 "kind": tool.kind if tool else "unknown"})  # fmt: skip
    step_span = next((s for s in spans_so_far if s.span_id == step_span_id(step)), None)
    if step_span is not None:  # the step lasts until its tools are done
        spans.end(
            step_span,
            status=step_span.status if step_span.status != "running" else "ok",
            error=step_span.error,
            end=rt.clock(),
        )
    spans.flush()
    writer.emit(ui.finish_step())
    writer.flush()
    return {"recorded": len(calls)}


def _end_waits(rt: Runtime, ids: RunIds, run: Run) -> None:
    """The step's waits are over (a wait that timed out was answered by no one): nothing is
    pending any more, and the run clock counts again."""
    clear_pending(rt, ids, run)
    if run.pending_approvals or run.waiting_since is not None or run.status == "waiting":
        now = rt.clock()

        def running(current: Run) -> dict[str, Any] | None:
            return None if current.terminal else {"status": "running", **end_wait(current, now)}

        change_run(rt, ids.tenant, ids.session_id, ids.run_id, running)


def _call_order(rt: Runtime, ids: RunIds, step: int) -> dict[str, int]:
    """The model's order of the step's calls, from its assistant message."""
    page = rt.store.list_messages(
        ids.tenant, ids.session_id, limit=5, newest_first=True, hydrate=True
    )
    for message in page.items:
        if message.role == "assistant" and message.run_id == ids.run_id and message.tool_calls:
            return {str(call.get("id")): i for i, call in enumerate(message.tool_calls)}
    return {}


def _describe(
    rt: Runtime, outcome: dict[str, Any], call_id: str, max_bytes: int
) -> tuple[str, dict[str, Any], str, dict[str, Any] | None]:
    """(message content for the model, event part, status, span error) of one outcome."""
    kind = outcome.get("outcome")
    if kind == "ok":
        packed = outcome.get("payload", outcome)
        if isinstance(packed, dict) and ("output" in packed or "output_ref" in packed):
            output = unpack_output(packed, rt.store.blobs)
        else:
            output = packed
        text = output_text(output)
        shown: Any = output
        if len(text.encode()) > PREVIEW_BYTES:
            shown = {
                "preview": cap_text(text, PREVIEW_BYTES),
                "bytes": len(text.encode()),
                "truncated": True,
            }
        return cap_text(text, max_bytes), ui.tool_output_available(call_id, shown), "ok", None
    if kind == "denied":
        error = outcome.get("error") or {}
        why = "timed out" if error.get("Error") == "States.Timeout" else "denied"
        reason = _cause_message(error.get("Cause"))
        note = f"The user {why} this tool call" + (f": {reason}" if reason else ".")
        return note, ui.tool_output_denied(call_id), "denied", {"Error": error.get("Error")}
    if kind == "rejected":
        message = str(outcome.get("error"))
        return (
            f"Error: {message}",
            ui.tool_output_error(call_id, message),
            "error",
            {"Error": "Podium.InvalidToolCall", "Cause": message},
        )
    error = outcome.get("error") or {}
    name = str(error.get("Error", "Error"))
    message = _cause_message(error.get("Cause")) or name
    if name == "States.Timeout":
        message = "the tool timed out"
    text = f"Error: {name}: {message}"
    return text, ui.tool_output_error(call_id, text), "error", {"Error": name, "Cause": message}


def _cause_message(cause: Any) -> str:
    """A Lambda failure's cause is its JSON error body: keep the message."""
    if not isinstance(cause, str) or not cause:
        return ""
    try:
        body = json.loads(cause)
    except json.JSONDecodeError:
        return cause[:2000]
    if isinstance(body, dict):
        return str(body.get("errorMessage", cause))[:2000]
    return cause[:2000]
