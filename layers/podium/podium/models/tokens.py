"""Token counting for context windows and budget estimates.

`count_tokens` uses litellm's tokenizer (imported on first use) for real models and the demo
model's own rule (~4 characters a token) for `podium/demo*`, so the local demo never pays
litellm's import. `estimate_tokens` is the cheap rule alone, for callers that prefer speed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from podium.models.cost import is_demo_model

__all__ = ["count_tokens", "estimate_text_tokens", "estimate_tokens"]

CHARS_PER_TOKEN = 4
MESSAGE_OVERHEAD_TOKENS = 4


def estimate_text_tokens(text: str) -> int:
    """~4 characters a token, at least 1 for non-empty text."""
    if not text:
        return 0
    return max(1, (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def estimate_tokens(
    messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]] = ()
) -> int:
    """A quick estimate: ~4 characters a token over text, tool calls and tool specs, plus 4
    tokens a message."""
    total = 0
    for message in messages:
        total += MESSAGE_OVERHEAD_TOKENS + estimate_text_tokens(
            _content_text(message.get("content"))
        )
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            total += estimate_text_tokens(str(function.get("name", "")))
            total += estimate_text_tokens(str(function.get("arguments", "")))
    if tools:
        total += estimate_text_tokens(json.dumps(list(tools), separators=(",", ":")))
    return total


def count_tokens(
    model: str,
    messages: Sequence[dict[str, Any]],
    tools: Sequence[dict[str, Any]] = (),
) -> int:
    """Prompt tokens of `messages` (and `tools`) for `model`: litellm's `token_counter` for
    real models, the demo rule for `podium/demo*`."""
    if is_demo_model(model):
        return estimate_tokens(messages, tools)
    from podium.models._litellm import ensure_litellm  # noqa: PLC0415 - avoids a cycle

    litellm = ensure_litellm()
    try:
        return int(
            litellm.token_counter(model=model, messages=list(messages), tools=list(tools) or None)
        )
    except Exception:  # an unknown tokenizer or message shape: estimate instead
        return estimate_tokens(messages, tools)
