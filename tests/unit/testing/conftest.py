"""Fixtures for the podium.testing tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest


def reassemble(chunks: list[Any]) -> dict[str, Any]:
    """Text, reasoning, tool calls (merged by index), finish reason and usage of a stream."""
    text, reasoning = "", ""
    calls: dict[int, dict[str, str]] = {}
    finish, usage = None, None
    for chunk in chunks:
        if getattr(chunk, "usage", None) is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            text += delta.content or ""
            reasoning += getattr(delta, "reasoning_content", None) or ""
            for call in delta.tool_calls or []:
                slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                if call.id:
                    slot["id"] = call.id
                if call.function and call.function.name:
                    slot["name"] = call.function.name
                if call.function and call.function.arguments:
                    slot["arguments"] += call.function.arguments
            finish = choice.finish_reason or finish
    return {
        "text": text,
        "reasoning": reasoning,
        "tool_calls": [calls[i] for i in sorted(calls)],
        "finish_reason": finish,
        "usage": usage,
    }


@pytest.fixture
def stream_result() -> Callable[[list[Any]], dict[str, Any]]:
    """Reassemble streamed chunks (openai SDK or litellm) the way a client must."""
    return reassemble
