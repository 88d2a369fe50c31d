"""Token counting for context windows and budget estimates.

`count_tokens` counts OpenAI-family models (`openai/…`, `azure/…`) with tiktoken directly, in
the way OpenAI documents (3 tokens a message, 1 for a name, 3 to prime the reply), using the
encodings litellm ships — without importing litellm, which takes seconds and which the lean
model path never needs. Other providers go through litellm's `token_counter`; the demo
models, and a function that has neither package (a Lambda with only Podium's layer), use the
~4-characters-a-token rule. `estimate_tokens` is that rule alone, for callers that prefer
speed.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from podium.models.cost import is_demo_model

__all__ = ["count_tokens", "estimate_text_tokens", "estimate_tokens"]

logger = logging.getLogger(__name__)

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
    """Prompt tokens of `messages` (and `tools`) for `model` (see the module docstring)."""
    if is_demo_model(model):
        return estimate_tokens(messages, tools)
    encoding = _openai_encoding(model)
    if encoding is not None:
        return _count_openai(encoding, messages, tools)
    try:
        from podium.models._litellm import ensure_litellm  # noqa: PLC0415 - avoids a cycle

        litellm = ensure_litellm()
        return int(
            litellm.token_counter(model=model, messages=list(messages), tools=list(tools) or None)
        )
    except Exception:  # no litellm here, an unknown tokenizer or message shape: estimate
        return estimate_tokens(messages, tools)


OPENAI_PROVIDERS = frozenset({"openai", "azure", "azure_ai"})
MESSAGE_TOKENS, NAME_TOKENS, REPLY_TOKENS = 3, 1, 3
"""OpenAI's accounting: each message is framed by 3 tokens, a name costs 1 more, and every
reply is primed with 3."""
_FALLBACK_ENCODING = "o200k_base"
"""The encoding of every OpenAI model since gpt-4o, for a name tiktoken does not know."""


@functools.lru_cache(maxsize=64)
def _openai_encoding(model: str) -> Any:
    """The tiktoken encoding for an OpenAI-family model, or None (another provider, or no
    tiktoken or encoding files here)."""
    provider, _, name = model.partition("/")
    if provider not in OPENAI_PROVIDERS or not name:
        return None
    try:
        import tiktoken  # noqa: PLC0415 - only where tokens are counted

        _use_bundled_encodings()
        try:
            encoding_name = tiktoken.encoding_name_for_model(name.rsplit("/", 1)[-1])
        except KeyError:
            encoding_name = _FALLBACK_ENCODING
        return tiktoken.get_encoding(encoding_name)
    except Exception as exc:  # no tiktoken, or its files cannot be read offline
        logger.info("model=%s error=%s | tiktoken unavailable: counting another way", model, exc)
        return None


def _use_bundled_encodings() -> None:
    """Point tiktoken at the encoding files litellm ships (tiktoken would download them),
    unless the environment already names a cache; found without importing litellm."""
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    spec = importlib.util.find_spec("litellm")
    for location in (spec.submodule_search_locations or []) if spec else []:
        bundled = Path(location) / "litellm_core_utils" / "tokenizers"
        if bundled.is_dir():
            os.environ["TIKTOKEN_CACHE_DIR"] = str(bundled)
            return


def _count_openai(
    encoding: Any, messages: Sequence[dict[str, Any]], tools: Sequence[dict[str, Any]]
) -> int:
    def length(text: str) -> int:
        return len(encoding.encode_ordinary(text)) if text else 0

    total = REPLY_TOKENS
    for message in messages:
        total += MESSAGE_TOKENS
        for key, value in message.items():
            if value is None:
                continue
            if key == "tool_calls":
                for call in value:
                    function = call.get("function") or {} if isinstance(call, dict) else {}
                    total += length(str(function.get("name", "")))
                    total += length(str(function.get("arguments", "")))
            elif key == "content" and not isinstance(value, str):
                total += length(_content_text(value))
            elif isinstance(value, str):
                total += length(value) + (NAME_TOKENS if key == "name" else 0)
    if tools:
        total += length(json.dumps(list(tools), separators=(",", ":")))
    return total
