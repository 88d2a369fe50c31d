"""The OpenAI chat-completions wire format, rendered from a `Reply` or a `Fault`.

Kept apart from the HTTP server so the shapes are in one place: a `chat.completion` body,
the `chat.completion.chunk` SSE events OpenAI streams (role first; reasoning, text, then
each tool call as a header chunk followed by argument fragments by index; a finish chunk;
the usage chunk with empty `choices` when `stream_options.include_usage` is set), and the
`{"error": {...}}` body.

Chunks are rendered from a per-response JSON prefix and suffix with only the delta encoded
per chunk, so a 20-chunk stream costs tens of microseconds.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Mapping
from typing import Any

from podium.testing.script import Fault, Reply, Usage, estimate_tokens, message_text

# (seconds to wait before sending, bytes of one SSE event)
Frame = tuple[float, bytes]

SYSTEM_FINGERPRINT = "fp_podium_fake"
DONE_EVENT = b"data: [DONE]\n\n"
MALFORMED_EVENT = b'data: {"id": "chatcmpl-broken", "choices": [{"delta": {"content": "tru\n\n'
BAD_JSON_BODY = b'{"id": "chatcmpl-broken", "object": "chat.completion", "choices": [ <html>'
_ARGUMENT_PIECE_CHARS = 8
_WORDS = re.compile(r"\S+\s*|\s+")
# One encoder: `json.dumps` with non-default options builds a new encoder on every call.
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# A str as a JSON string literal (the C encoder, no container overhead).
_string = json.JSONEncoder(ensure_ascii=False).encode


def new_completion_id() -> str:
    return "chatcmpl-" + os.urandom(15).hex()[:29]


def new_call_id() -> str:
    return "call_" + os.urandom(12).hex()


def split_even(text: str, pieces: int) -> list[str]:
    """Split `text` into `pieces` parts of near-equal length (fewer if the text is shorter)."""
    if not text:
        return []
    pieces = max(1, min(pieces, len(text)))
    size, extra = divmod(len(text), pieces)
    out: list[str] = []
    start = 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out


def split_text(text: str | None, pieces: int | None) -> list[str]:
    """Stream pieces of a text: `pieces` even parts, or a word (with its trailing space) each."""
    if not text:
        return []
    if pieces is not None:
        return split_even(text, pieces)
    return _WORDS.findall(text)


def split_arguments(arguments: str, pieces: int | None) -> list[str]:
    if not arguments:
        return []
    if pieces is not None:
        return split_even(arguments, pieces)
    step = _ARGUMENT_PIECE_CHARS
    return [arguments[i : i + step] for i in range(0, len(arguments), step)]


def prompt_tokens(request: Mapping[str, Any]) -> int:
    """~4 characters a token over the messages' text and tool-call arguments, +4 a message."""
    messages = request.get("messages")
    if not isinstance(messages, list):
        return 0
    total = 0
    for message in messages:
        if not isinstance(message, Mapping):
            continue
        total += 4 + estimate_tokens(message_text(message))
        calls = message.get("tool_calls")
        if isinstance(calls, list):
            for call in calls:
                function = call.get("function") if isinstance(call, Mapping) else None
                if isinstance(function, Mapping):
                    total += estimate_tokens(str(function.get("arguments", "")))
    return total


def usage_json(reply: Reply, request: Mapping[str, Any]) -> dict[str, Any]:
    given = reply.usage or Usage()
    prompt = given.prompt_tokens
    if prompt is None:
        prompt = prompt_tokens(request)
    completion = given.completion_tokens
    if completion is None:
        completion = estimate_tokens(reply.text or "") + estimate_tokens(reply.reasoning or "")
        for call in reply.tool_calls:
            completion += estimate_tokens(call.name) + estimate_tokens(call.arguments_json)
    total = given.total_tokens if given.total_tokens is not None else prompt + completion
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
    }
    if given.cached_tokens is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": given.cached_tokens, "audio_tokens": 0}
    if given.reasoning_tokens is not None:
        usage["completion_tokens_details"] = {
            "reasoning_tokens": given.reasoning_tokens,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return usage


def completion_body(reply: Reply, model: str, request: Mapping[str, Any]) -> bytes:
    """A non-streaming `chat.completion` response body."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text if reply.text is not None or not reply.tool_calls else None,
        "refusal": None,
        "annotations": [],
    }
    if reply.text is None and not reply.tool_calls:
        message["content"] = ""
    if reply.reasoning is not None:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": call.id or new_call_id(),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
            }
            for call in reply.tool_calls
        ]
    body = {
        "id": new_completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.resolved_finish_reason,
            }
        ],
        "usage": usage_json(reply, request),
        "service_tier": "default",
        "system_fingerprint": SYSTEM_FINGERPRINT,
    }
    return _dumps(body).encode()


_ROLE = '{"role":"assistant","content":"","refusal":null}'
_TOOL_HEADER = (
    '{"tool_calls":[{"index":%d,"id":%s,"type":"function","function":{"name":%s,"arguments":""}}]}'
)
_TOOL_FRAGMENT = '{"tool_calls":[{"index":%d,"function":{"arguments":%s}}]}'
# When a reply starts with a tool call, OpenAI sends the role in the same chunk.
_ROLE_WITH_TOOLS = '{"role":"assistant","content":null,"refusal":null,"tool_calls"'


def _deltas(reply: Reply) -> list[str]:
    """The content-bearing deltas of a stream as JSON, in order, without the role chunk.

    Encoded by hand (a JSON string per piece) because `json.dumps` of a small dict costs
    ~3 µs and a stream has dozens of them.
    """
    deltas = [
        '{"reasoning_content":' + _string(piece) + "}"
        for piece in split_text(reply.reasoning, reply.chunks)
    ]
    deltas.extend(
        '{"content":' + _string(piece) + "}" for piece in split_text(reply.text, reply.chunks)
    )
    for index, call in enumerate(reply.tool_calls):
        deltas.append(_TOOL_HEADER % (index, _string(call.id or new_call_id()), _string(call.name)))
        deltas.extend(
            _TOOL_FRAGMENT % (index, _string(piece))
            for piece in split_arguments(call.arguments_json, reply.chunks)
        )
    return deltas


def _delta_count(reply: Reply) -> int:
    count = len(split_text(reply.reasoning, reply.chunks)) + len(
        split_text(reply.text, reply.chunks)
    )
    for call in reply.tool_calls:
        count += 1 + len(split_arguments(call.arguments_json, reply.chunks))
    return count


def stream_duration(reply: Reply, ttft_s: float, chunk_s: float) -> float:
    """How long the reply's stream takes: what a non-streaming reply waits before answering."""
    if chunk_s <= 0:
        return ttft_s
    return ttft_s + chunk_s * max(0, _delta_count(reply) - 1)


def stream_frames(
    reply: Reply,
    model: str,
    request: Mapping[str, Any],
    *,
    include_usage: bool,
    ttft_s: float,
    chunk_s: float,
) -> list[Frame]:
    """Every SSE event of a streamed reply, with the delay before each; `[DONE]` excluded.

    The first event waits `ttft_s`; each content event after the first waits `chunk_s`; the
    finish and usage events follow at once.
    """
    head = (
        f'data: {{"id":"{new_completion_id()}","object":"chat.completion.chunk",'
        f'"created":{int(time.time())},"model":{_dumps(model)},"service_tier":"default",'
        f'"system_fingerprint":"{SYSTEM_FINGERPRINT}","choices":'
    )
    prefix = head + '[{"index":0,"delta":'
    usage_tail = ',"usage":null}\n\n' if include_usage else "}\n\n"
    content_tail = ',"logprobs":null,"finish_reason":null}]' + usage_tail

    deltas = _deltas(reply)
    frames: list[Frame] = []
    if deltas and deltas[0].startswith('{"tool_calls"'):
        deltas[0] = _ROLE_WITH_TOOLS + deltas[0][len('{"tool_calls"') :]
    else:
        frames.append((ttft_s, (prefix + _ROLE + content_tail).encode()))
    for i, delta in enumerate(deltas):
        if not frames:
            delay = ttft_s
        elif i == 0:
            delay = 0.0
        else:
            delay = chunk_s
        frames.append((delay, (prefix + delta + content_tail).encode()))
    finish = f'{{}},"logprobs":null,"finish_reason":"{reply.resolved_finish_reason}"}}]'
    frames.append((0.0, (prefix + finish + usage_tail).encode()))
    if include_usage:
        usage = _dumps(usage_json(reply, request))
        frames.append((0.0, (head + '[],"usage":' + usage + "}\n\n").encode()))
    return frames


def error_body(fault: Fault) -> bytes:
    return _dumps(
        {
            "error": {
                "message": fault.message,
                "type": fault.error_type,
                "param": None,
                "code": fault.code,
            }
        }
    ).encode()


def simple_error_body(status: int, message: str) -> bytes:
    return error_body(Fault.error(status, message))
