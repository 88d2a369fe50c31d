"""Podium's events as parts of the AI SDK UI message stream protocol (v1, as `ai@6` defines
it), so `useChat` and the AI SDK's chat transport read Podium's streams with no client of
ours. Podium's own events are `data-*` parts.

Each function returns the part as stored in the event log and sent as one SSE `data:` line.
"""

from __future__ import annotations

from typing import Any, Literal

Part = dict[str, Any]
FinishReason = Literal["stop", "length", "content-filter", "tool-calls", "error", "other"]

# Podium's data parts.
DATA_RUN = "data-run"  # run status changes: {run_id, status, ...}
DATA_USAGE = "data-usage"  # a step's or the run's usage: tokens and cost
DATA_DISCARD = "data-discard"  # drop what an earlier attempt of a step streamed
DATA_NOTICE = "data-notice"  # retries, fallbacks, budget decisions
DATA_ROUTING = "data-routing"  # the model chosen for a step and why


def start(message_id: str, metadata: dict[str, Any] | None = None) -> Part:
    part: Part = {"type": "start", "messageId": message_id}
    if metadata:
        part["messageMetadata"] = metadata
    return part


def start_step() -> Part:
    return {"type": "start-step"}


def finish_step() -> Part:
    return {"type": "finish-step"}


def finish(reason: FinishReason, metadata: dict[str, Any] | None = None) -> Part:
    part: Part = {"type": "finish", "finishReason": reason}
    if metadata:
        part["messageMetadata"] = metadata
    return part


def error(text: str) -> Part:
    return {"type": "error", "errorText": text}


def abort(reason: str) -> Part:
    return {"type": "abort", "reason": reason}


def text_start(part_id: str) -> Part:
    return {"type": "text-start", "id": part_id}


def text_delta(part_id: str, delta: str) -> Part:
    return {"type": "text-delta", "id": part_id, "delta": delta}


def text_end(part_id: str) -> Part:
    return {"type": "text-end", "id": part_id}


def reasoning_start(part_id: str) -> Part:
    return {"type": "reasoning-start", "id": part_id}


def reasoning_delta(part_id: str, delta: str) -> Part:
    return {"type": "reasoning-delta", "id": part_id, "delta": delta}


def reasoning_end(part_id: str) -> Part:
    return {"type": "reasoning-end", "id": part_id}


def tool_input_start(call_id: str, tool: str) -> Part:
    return {"type": "tool-input-start", "toolCallId": call_id, "toolName": tool}


def tool_input_delta(call_id: str, fragment: str) -> Part:
    return {"type": "tool-input-delta", "toolCallId": call_id, "inputTextDelta": fragment}


def tool_input_available(call_id: str, tool: str, arguments: Any) -> Part:
    return {
        "type": "tool-input-available",
        "toolCallId": call_id,
        "toolName": tool,
        "input": arguments,
    }


def tool_input_error(call_id: str, tool: str, arguments: Any, text: str) -> Part:
    return {
        "type": "tool-input-error",
        "toolCallId": call_id,
        "toolName": tool,
        "input": arguments,
        "errorText": text,
    }


def tool_approval_request(call_id: str) -> Part:
    """A call waits for a person; approve or deny it with the approval id (= the call id)."""
    return {"type": "tool-approval-request", "approvalId": call_id, "toolCallId": call_id}


def tool_output_available(call_id: str, output: Any) -> Part:
    return {"type": "tool-output-available", "toolCallId": call_id, "output": output}


def tool_output_error(call_id: str, text: str) -> Part:
    return {"type": "tool-output-error", "toolCallId": call_id, "errorText": text}


def tool_output_denied(call_id: str) -> Part:
    return {"type": "tool-output-denied", "toolCallId": call_id}


def data(kind: str, payload: Any, *, part_id: str | None = None, transient: bool = False) -> Part:
    part: Part = {"type": kind if kind.startswith("data-") else f"data-{kind}", "data": payload}
    if part_id is not None:
        part["id"] = part_id
    if transient:
        part["transient"] = True
    return part
