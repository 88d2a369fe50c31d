"""The boundary types of `podium.models`: what a model call takes, streams and returns.

Everything here is pydantic v2 and provider-neutral. Messages and tools are OpenAI-shaped
dicts (the lingua franca litellm speaks too); stream events are Podium's own small
vocabulary, which the engine maps onto the UI message stream protocol.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from podium.protocol.agent import ModelPricing, ModelSettings

__all__ = [
    "OUTPUT_EVENTS",
    "Attempt",
    "AttemptOutcome",
    "Finish",
    "ModelRequest",
    "ModelResult",
    "Notice",
    "ReasoningDelta",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallDone",
    "ToolCallResult",
    "ToolCallStart",
    "Usage",
    "UsageReport",
]

Message: TypeAlias = dict[str, Any]
ToolSpec: TypeAlias = dict[str, Any]
CallPath: TypeAlias = Literal["auto", "lean", "litellm"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ModelRequest(_Frozen):
    """One model call: which model, what to send, and how long to wait."""

    model: str
    """The litellm model string, `provider/model` (e.g. `openai/gpt-4.1-mini`, `podium/demo`)."""

    messages: list[Message]
    """OpenAI-shaped chat messages (`role`, `content`, `tool_calls`, `tool_call_id`)."""

    tools: list[ToolSpec] = Field(default_factory=list)
    """OpenAI function specs: `{"type": "function", "function": {name, description,
    parameters}}`."""

    settings: ModelSettings = ModelSettings()
    """Generation settings (temperature, max output tokens, reasoning effort, top_p)."""

    api_base: str | None = None
    """Override of the provider's endpoint."""

    pricing: ModelPricing | None = None
    """The agent's prices for this model; they take precedence over litellm's price map."""

    output_schema: dict[str, Any] | None = None
    """A JSON Schema the answer must satisfy; sent as `response_format` where supported."""

    timeout_s: float = Field(default=60.0, gt=0)
    """Seconds an attempt may wait for the provider (connecting, the first byte, and each
    further read). A hung provider fails the attempt with a retryable timeout."""

    path: CallPath = "auto"
    """How the call is made: `auto` (the lean path for OpenAI-wire providers and the demo
    model, litellm for everything else), or forced `lean` / `litellm`."""

    metadata: dict[str, str] = Field(default_factory=dict)
    """Correlation ids (session, run, step) added to log lines; never sent to the provider."""


# --------------------------------------------------------------------------- usage


class Usage(_Frozen):
    """Tokens and cost of one call (or a sum of calls)."""

    input_tokens: int = 0
    """Prompt tokens, cached ones included."""

    output_tokens: int = 0
    """Completion tokens, reasoning ones included."""

    cached_tokens: int = 0
    """Prompt tokens served from the provider's cache (priced at the cached rate)."""

    reasoning_tokens: int = 0
    """Completion tokens spent on reasoning (priced as output)."""

    cost_usd: float = 0.0
    """USD: from the agent's `pricing`, else litellm's price map, else 0 (`priced` False)."""

    priced: bool = True
    """False when no price was known for the model, so `cost_usd` is 0 by default."""

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cached_tokens=self.cached_tokens + other.cached_tokens,
            reasoning_tokens=self.reasoning_tokens + other.reasoning_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            priced=self.priced and other.priced,
        )


# --------------------------------------------------------------------------- stream events


class TextDelta(_Frozen):
    """A piece of the answer's text."""

    type: Literal["text-delta"] = "text-delta"
    delta: str


class ReasoningDelta(_Frozen):
    """A piece of the model's reasoning, when the provider streams it."""

    type: Literal["reasoning-delta"] = "reasoning-delta"
    delta: str


class ToolCallStart(_Frozen):
    """The model began a tool call (its index among the response's parallel calls)."""

    type: Literal["tool-call-start"] = "tool-call-start"
    index: int
    id: str
    name: str


class ToolCallDelta(_Frozen):
    """A fragment of a tool call's JSON arguments."""

    type: Literal["tool-call-delta"] = "tool-call-delta"
    index: int
    arguments_fragment: str


class ToolCallDone(_Frozen):
    """A tool call is complete; `arguments_json` is the whole argument string as sent."""

    type: Literal["tool-call-done"] = "tool-call-done"
    index: int
    id: str
    name: str
    arguments_json: str


class UsageReport(_Frozen):
    """Tokens and cost of the call, once the provider reported them."""

    type: Literal["usage"] = "usage"
    usage: Usage
    model: str


class Finish(_Frozen):
    """The call ended: `stop`, `tool_calls`, `length`, `content_filter` or `error`."""

    type: Literal["finish"] = "finish"
    reason: str


class Notice(_Frozen):
    """Something the user should know that is not model output: a retry, a fallback, a
    budget downgrade or refusal. `kind` names it; `detail` is safe to show (no secrets)."""

    type: Literal["notice"] = "notice"
    kind: Literal["retry", "fallback", "budget-downgrade", "budget-stop", "stream-error", "repair"]
    message: str
    detail: dict[str, Any] = Field(default_factory=dict)


StreamEvent: TypeAlias = Annotated[
    TextDelta
    | ReasoningDelta
    | ToolCallStart
    | ToolCallDelta
    | ToolCallDone
    | UsageReport
    | Finish
    | Notice,
    Field(discriminator="type"),
]

# The events that reach the user as model output: once one was emitted, a failure can no
# longer be hidden by a retry or a fallback.
OUTPUT_EVENTS = (TextDelta, ReasoningDelta, ToolCallStart, ToolCallDelta, ToolCallDone)


# --------------------------------------------------------------------------- results

AttemptOutcome: TypeAlias = Literal["ok", "retry", "fallback", "failed"]


class Attempt(_Frozen):
    """One try at a provider, as the trace shows it."""

    model: str
    outcome: AttemptOutcome
    """`ok`; `retry` (the same model is tried again); `fallback` (the next model is tried);
    `failed` (the error ended the call)."""
    error: str | None = None
    """The error class, e.g. `rate_limit`, `server_error`, `timeout`, `connection`."""
    status: int | None = None
    """The HTTP status, when there was one."""
    retry_after_s: float | None = None
    """The provider's `Retry-After`, when it sent one."""
    duration_ms: float = 0.0
    path: str = ""
    """`lean` or `litellm`: how the call was made."""


class ToolCallResult(_Frozen):
    """A complete tool call from the model's answer."""

    id: str
    name: str
    arguments_json: str


class ModelResult(_Frozen):
    """The outcome of a model call: the answer, its usage and how it was obtained."""

    text: str = ""
    reasoning: str = ""
    tool_calls: list[ToolCallResult] = Field(default_factory=list)
    usage: Usage = Usage()
    finish_reason: str = "stop"
    model: str
    """The model that answered (a fallback's, when one was used)."""
    latency_ms: float = 0.0
    """From sending the request to the end of the answer, for the successful attempt."""
    ttft_ms: float | None = None
    """Time to the first streamed output, for the successful attempt (None if nothing)."""
    attempts: list[Attempt] = Field(default_factory=list)
    """Every attempt, failed ones first, so the trace shows retries and fallbacks."""
    parsed: Any = None
    """The answer parsed as JSON, when the request carried an output schema."""

    def assistant_message(self) -> Message:
        """The OpenAI-shaped assistant message to store in the conversation."""
        message: Message = {"role": "assistant", "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for call in self.tool_calls
            ]
        return message
