"""Token counts: OpenAI-family models with tiktoken (no litellm import), close to litellm's own
count; other providers through litellm; the estimate where neither package is at hand."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from podium.models import tokens
from podium.models.tokens import count_tokens, estimate_tokens

MESSAGES = [
    {"role": "system", "content": "You are a concise weather assistant."},
    {"role": "user", "content": "What's the weather and time in Paris? <|endoftext|>"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "c1", "name": "get_weather", "content": '{"temp_c": 21}'},
    {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]


def test_openai_models_are_counted_without_importing_litellm():
    code = (
        "import json, sys\n"
        "from podium.models.tokens import count_tokens\n"
        f"n = count_tokens('openai/gpt-4o-mini', {MESSAGES!r})\n"
        "print(json.dumps([n, 'litellm' in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    counted, imported = json.loads(out.stdout.strip().splitlines()[-1])
    assert counted > 0 and not imported


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "openai/gpt-4", "azure/gpt-4o"])
def test_the_count_is_close_to_litellms(model):
    from podium.models._litellm import ensure_litellm

    litellm = ensure_litellm()
    for messages, tools in ((MESSAGES, None), (MESSAGES[:2], None), (MESSAGES, TOOLS)):
        ours = count_tokens(model, messages, tools or ())
        theirs = litellm.token_counter(model=model, messages=messages, tools=tools)
        assert abs(ours - theirs) <= max(2, 0.1 * theirs), (messages, ours, theirs)


def test_the_right_encoding_for_each_model():
    assert tokens._openai_encoding("openai/gpt-4o-mini").name == "o200k_base"
    assert tokens._openai_encoding("openai/gpt-4").name == "cl100k_base"
    assert tokens._openai_encoding("openai/some-new-model").name == "o200k_base"
    assert tokens._openai_encoding("anthropic/claude-sonnet-4") is None


def test_without_tiktoken_or_litellm_the_estimate_is_used(monkeypatch):
    tokens._openai_encoding.cache_clear()
    monkeypatch.setitem(sys.modules, "tiktoken", None)  # `import tiktoken` fails
    monkeypatch.setitem(sys.modules, "litellm", None)
    monkeypatch.setattr("podium.models._litellm._module", None)
    try:
        assert count_tokens("openai/gpt-4o-mini", MESSAGES) == estimate_tokens(MESSAGES)
        assert count_tokens("anthropic/claude-sonnet-4", MESSAGES) == estimate_tokens(MESSAGES)
    finally:
        tokens._openai_encoding.cache_clear()
