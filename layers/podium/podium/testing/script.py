"""What the fake OpenAI server answers: scripted replies and faults.

A test queues steps with `FakeOpenAI.script(*steps)`; each chat-completions request takes
the next one. A step is a `Reply` (text, parallel tool calls, reasoning, usage, latency) or
a `Fault` (an HTTP error, a hang, a broken stream). When the queue is empty the server asks
its responder, a callable `(request_json) -> Reply | Fault`; the default echoes the last
user message.

Everything here is plain, frozen data and stdlib only, so a test file can build steps
without starting anything.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Literal, TypeAlias

__all__ = [
    "Fault",
    "FaultKind",
    "FinishReason",
    "Reply",
    "Responder",
    "Step",
    "ToolCall",
    "Usage",
    "echo_responder",
    "estimate_tokens",
    "message_text",
]

FinishReason: TypeAlias = Literal["stop", "tool_calls", "length", "content_filter"]
FaultKind: TypeAlias = Literal["http_error", "hang", "malformed_chunk", "drop", "bad_json_body"]

_encode_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

# The fake's token count: about four characters per token, like OpenAI's rule of thumb.
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """Tokens the fake charges for `text`: ~4 characters per token, at least 1 if non-empty."""
    if not text:
        return 0
    return max(1, (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts to report. Any count left as None is computed (~4 characters a token).

    `cached_tokens` becomes `prompt_tokens_details.cached_tokens` and `reasoning_tokens`
    becomes `completion_tokens_details.reasoning_tokens`; both are sent only when set.
    """

    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    total_tokens: int | None = None
    cached_tokens: int | None = None
    reasoning_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One function call in a reply. `arguments` is a JSON object or an already-encoded string
    (which may be deliberately invalid JSON). `id` defaults to a fresh `call_…` id per reply."""

    name: str
    arguments: Mapping[str, Any] | str = field(default_factory=dict)
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        """The arguments as the wire carries them: a JSON string."""
        if isinstance(self.arguments, str):
            return self.arguments
        return _encode_json(dict(self.arguments))


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful completion.

    `text` is the assistant content; `tool_calls` are returned in parallel, in order.
    `reasoning` is sent as `reasoning_content` (streamed before the text). `usage` overrides
    the computed token counts; `finish_reason` defaults to `tool_calls` when there are tool
    calls, else `stop`.

    Streaming: `chunks` splits the text (and the reasoning, and each call's arguments) into
    that many pieces; by default text is sent a word per chunk and arguments in pieces of
    eight characters. `ttft_ms` / `chunk_ms` override the server's latency for this reply:
    the first chunk is sent after `ttft_ms`, each further content chunk `chunk_ms` later. A
    non-streaming reply is sent after the time its stream would have taken.
    """

    text: str | None = None
    _: KW_ONLY
    tool_calls: Sequence[ToolCall] = ()
    reasoning: str | None = None
    usage: Usage | None = None
    finish_reason: FinishReason | None = None
    chunks: int | None = None
    ttft_ms: float | None = None
    chunk_ms: float | None = None

    def __post_init__(self) -> None:
        # Freeze a list passed by the caller so the step cannot change once queued.
        object.__setattr__(self, "tool_calls", tuple(self.tool_calls))
        if self.chunks is not None and self.chunks < 1:
            raise ValueError(f"chunks must be at least 1, got {self.chunks}")

    @property
    def resolved_finish_reason(self) -> FinishReason:
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"


# What a broken stream sends before it breaks, when the fault does not say.
_DEFAULT_PARTIAL = Reply(
    "This answer is streamed a word at a time and it will be cut off before it ends, "
    "because the fake server was told to break the stream somewhere in the middle of it."
)


@dataclass(frozen=True, slots=True)
class Fault:
    """A failure the server produces instead of a reply. Build one with the class methods."""

    kind: FaultKind
    _: KW_ONLY
    status: int = 200
    message: str = ""
    error_type: str | None = None
    code: str | None = None
    retry_after: float | None = None
    after: int = 0
    reset: bool = False
    reply: Reply = _DEFAULT_PARTIAL

    @classmethod
    def error(
        cls,
        status: int,
        message: str = "The fake server was told to fail this request.",
        *,
        error_type: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> Fault:
        """Any HTTP error status with an OpenAI-shaped body `{"error": {...}}`."""
        if not 400 <= status <= 599:
            raise ValueError(f"an error status is 4xx or 5xx, got {status}")
        return cls(
            "http_error",
            status=status,
            message=message,
            error_type=error_type or ("server_error" if status >= 500 else "invalid_request_error"),
            code=code,
            retry_after=retry_after,
        )

    @classmethod
    def rate_limit(
        cls,
        retry_after: float | None = 1.0,
        message: str = "Rate limit reached for requests. Please try again later.",
    ) -> Fault:
        """429 with `Retry-After` (seconds) and `retry-after-ms` headers when `retry_after`
        is set."""
        return cls(
            "http_error",
            status=429,
            message=message,
            error_type="requests",
            code="rate_limit_exceeded",
            retry_after=retry_after,
        )

    @classmethod
    def server_error(
        cls, status: int = 500, message: str = "The server had an error processing your request."
    ) -> Fault:
        """A 5xx with an OpenAI-shaped error body."""
        if not 500 <= status <= 599:
            raise ValueError(f"a server error status is 5xx, got {status}")
        return cls("http_error", status=status, message=message, error_type="server_error")

    @classmethod
    def hang(cls) -> Fault:
        """Read the request and never answer, until the client disconnects, the server is
        reset or it stops."""
        return cls("hang")

    @classmethod
    def malformed_chunk(cls, after: int = 1, reply: Reply | None = None) -> Fault:
        """Stream `after` good SSE events (from `reply`), then a `data:` line that is not JSON,
        then end the response normally. On a non-streaming request: a 200 whose body is
        not JSON."""
        return cls("malformed_chunk", after=after, reply=reply or _DEFAULT_PARTIAL)

    @classmethod
    def drop(cls, after: int = 1, *, reset: bool = False, reply: Reply | None = None) -> Fault:
        """Stream `after` good SSE events (from `reply`), then close the TCP connection
        without finishing the body or sending `[DONE]`. `reset=True` sends a TCP RST instead
        of a FIN. On a non-streaming request the connection closes before any response."""
        return cls("drop", after=after, reset=reset, reply=reply or _DEFAULT_PARTIAL)

    @classmethod
    def bad_json_body(cls) -> Fault:
        """200 `application/json` whose body is not JSON (streaming or not)."""
        return cls("bad_json_body", status=200)


Step: TypeAlias = Reply | Fault
Responder: TypeAlias = Callable[[dict[str, Any]], Step]


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") in ("text", "input_text")
        )
    return ""


def echo_responder(request: dict[str, Any]) -> Step:
    """The default responder: reply with the last user message's text (or "OK")."""
    messages = request.get("messages")
    if isinstance(messages, list):
        for message in reversed(messages):
            if isinstance(message, Mapping) and message.get("role") == "user":
                return Reply(message_text(message) or "OK")
    return Reply("OK")
