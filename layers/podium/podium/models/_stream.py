"""Turn OpenAI-shaped chunks (from either call path) into Podium's stream events and result.

`Accumulator` is fed the pieces of a chat-completion chunk — text, reasoning, tool-call
fragments by index, a finish reason, a usage block — and emits `TextDelta`,
`ReasoningDelta`, `ToolCallStart` / `ToolCallDelta` as they come, then every
`ToolCallDone` (in index order), `UsageReport` and `Finish` at the end. Parallel tool calls
are kept apart by their index, so all of them survive.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from podium.models.cost import compute_cost
from podium.models.types import (
    Finish,
    ModelRequest,
    ReasoningDelta,
    StreamEvent,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallResult,
    ToolCallStart,
    Usage,
    UsageReport,
)

__all__ = ["Accumulator", "EventSink", "usage_from_openai"]

EventSink = Callable[[StreamEvent], Awaitable[None] | None]


def _int(value: Any) -> int:
    return value if isinstance(value, int) else 0


def _get(block: Any, name: str) -> Any:
    if isinstance(block, Mapping):
        return block.get(name)
    return getattr(block, name, None)


def usage_from_openai(block: Any) -> tuple[int, int, int, int]:
    """(input, output, cached, reasoning) tokens from an OpenAI-shaped usage block (a dict or
    an object such as litellm's `Usage`)."""
    prompt = _int(_get(block, "prompt_tokens"))
    completion = _int(_get(block, "completion_tokens"))
    prompt_details = _get(block, "prompt_tokens_details")
    completion_details = _get(block, "completion_tokens_details")
    cached = _int(_get(prompt_details, "cached_tokens")) if prompt_details is not None else 0
    reasoning = (
        _int(_get(completion_details, "reasoning_tokens")) if completion_details is not None else 0
    )
    return prompt, completion, cached, reasoning


@dataclass
class _Call:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)
    started: bool = False


class Accumulator:
    """Collects one attempt's answer and emits its events through `sink`."""

    def __init__(self, request: ModelRequest, sink: EventSink | None, started: float) -> None:
        self.request = request
        self._sink = sink
        self.started = started
        self.text: list[str] = []
        self.reasoning: list[str] = []
        self.calls: dict[int, _Call] = {}
        self.finish_reason: str | None = None
        self.usage_block: Any = None
        self.emitted = False
        self.first_output: float | None = None

    async def _emit(self, event: StreamEvent, *, output: bool = True) -> None:
        if output and not self.emitted:
            self.emitted = True
            self.first_output = time.perf_counter()
        if self._sink is not None:
            result = self._sink(event)
            if inspect.isawaitable(result):
                await result

    async def text_delta(self, delta: str) -> None:
        if delta:
            self.text.append(delta)
            await self._emit(TextDelta(delta=delta))

    async def reasoning_delta(self, delta: str) -> None:
        if delta:
            self.reasoning.append(delta)
            await self._emit(ReasoningDelta(delta=delta))

    async def tool_fragment(
        self, index: int, call_id: str | None, name: str | None, arguments: str | None
    ) -> None:
        call = self.calls.get(index)
        if call is None:
            call = self.calls[index] = _Call()
        if call_id:
            call.id = call_id
        if name and not call.started:
            call.name = name  # OpenAI-style streams send the whole name once
        if not call.started and call.name:
            call.started = True
            call.id = call.id or f"call_{index}"
            await self._emit(ToolCallStart(index=index, id=call.id, name=call.name))
            if call.arguments:  # fragments that came before the name
                await self._emit(
                    ToolCallDelta(index=index, arguments_fragment="".join(call.arguments))
                )
        if arguments:
            call.arguments.append(arguments)
            if call.started:
                await self._emit(ToolCallDelta(index=index, arguments_fragment=arguments))

    def finish(self, reason: str | None) -> None:
        if reason:
            self.finish_reason = reason

    def usage(self, block: Any) -> None:
        if block is not None:
            self.usage_block = block

    def tool_results(self) -> list[ToolCallResult]:
        return [
            ToolCallResult(
                id=call.id or f"call_{index}",
                name=call.name,
                arguments_json="".join(call.arguments) or "{}",
            )
            for index, call in sorted(self.calls.items())
        ]

    def compute_usage(self, fallback: Callable[[], tuple[int, int]]) -> Usage:
        """Usage from the provider's report; `fallback()` counts (input, output) when the
        provider sent none."""
        if self.usage_block is not None:
            prompt, completion, cached, reasoning = usage_from_openai(self.usage_block)
        else:
            prompt, completion = fallback()
            cached = reasoning = 0
        cost, priced = compute_cost(
            self.request.model,
            input_tokens=prompt,
            output_tokens=completion,
            cached_tokens=cached,
            pricing=self.request.pricing,
        )
        return Usage(
            input_tokens=prompt,
            output_tokens=completion,
            cached_tokens=cached,
            reasoning_tokens=reasoning,
            cost_usd=cost,
            priced=priced,
        )

    async def close(self, usage: Usage) -> str:
        """Emit the closing events (each tool call's completion, usage, finish); returns
        the finish reason."""
        for index, result in zip(sorted(self.calls), self.tool_results(), strict=True):
            await self._emit(
                ToolCallDone(
                    index=index,
                    id=result.id,
                    name=result.name,
                    arguments_json=result.arguments_json,
                )
            )
        reason = self.finish_reason or ("tool_calls" if self.calls else "stop")
        await self._emit(UsageReport(usage=usage, model=self.request.model), output=False)
        await self._emit(Finish(reason=reason), output=False)
        return reason
