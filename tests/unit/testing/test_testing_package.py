"""`podium.testing` stays out of `import podium` and costs nothing until a name is used."""

from __future__ import annotations

import os
import subprocess
import sys

from podium.testing import Reply, ToolCall, Usage, echo_responder


def test_import_podium_does_not_import_the_testing_helpers():
    code = (
        "import sys, podium, podium.testing\n"
        "loaded = [m for m in sys.modules if m.startswith('podium.testing.')]\n"
        "assert loaded == [], loaded\n"
        "assert 'asyncio' not in sys.modules\n"
        "podium.testing.FakeOpenAI\n"
        "assert 'podium.testing.fake_openai' in sys.modules\n"
        "assert 'litellm' not in sys.modules and 'openai' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_conftest_keeps_litellm_offline():
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert os.environ["LITELLM_OFFLINE_MODE"] == "true"


def test_steps_are_frozen_values():
    reply = Reply("hi", tool_calls=[ToolCall("f", {"a": 1})], usage=Usage(prompt_tokens=3))
    assert reply.tool_calls == (ToolCall("f", {"a": 1}),)
    assert reply.tool_calls[0].arguments_json == '{"a":1}'
    assert reply.resolved_finish_reason == "tool_calls"
    assert echo_responder({"messages": []}) == Reply("OK")
    assert echo_responder(
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "parts"}]}]}
    ) == Reply("parts")


def test_invalid_steps_are_refused_when_built():
    import pytest

    from podium.testing import Fault

    with pytest.raises(ValueError):
        Fault.server_error(404)
    with pytest.raises(ValueError):
        Fault.error(200)
    with pytest.raises(ValueError):
        Reply("x", chunks=0)
