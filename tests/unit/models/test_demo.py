"""The built-in demo model: deterministic tool calls, an answer from tool results, usage —
in-process on the lean path and as a litellm custom provider."""

from __future__ import annotations

import json

import pytest

from podium.models import ModelRequest, call_model, call_with_fallbacks, tool_specs
from podium.models.demo import demo_reply

QUESTION = [{"role": "user", "content": "What's the weather and time in Paris?"}]


def _calls(result):
    return [(c.name, json.loads(c.arguments_json)) for c in result.tool_calls]


def test_weather_question_calls_both_tools_in_parallel(weather_agent, path, run, events):
    request = ModelRequest(
        model="podium/demo", messages=QUESTION, tools=tool_specs(weather_agent.tools), path=path
    )

    result = run(call_model(request, on_event=events.append))

    assert _calls(result) == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"timezone": "Europe/Paris"}),
    ]
    assert result.finish_reason == "tool_calls"
    assert [e.name for e in events.of("tool-call-start")] == ["get_weather", "get_time"]
    assert len(events.of("tool-call-delta")) > 2  # arguments stream in pieces
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.cost_usd == 0.0 and result.usage.priced
    assert result.attempts[0].path == path


def test_answer_streams_token_by_token_after_tool_results(weather_agent, path, run, events):
    tools = tool_specs(weather_agent.tools)
    first = run(call_model(ModelRequest(model="podium/demo", messages=QUESTION, tools=tools)))
    results = {
        "get_weather": {"city": "Paris", "temperature_c": 18, "conditions": "sunny"},
        "get_time": {"timezone": "Europe/Paris", "local_time": "2026-11-02 14:05"},
    }
    messages = [
        *QUESTION,
        first.assistant_message(),
        *[
            {"role": "tool", "tool_call_id": c.id, "content": json.dumps(results[c.name])}
            for c in first.tool_calls
        ],
    ]

    answer = run(
        call_model(
            ModelRequest(model="podium/demo", messages=messages, tools=tools, path=path),
            on_event=events.append,
        )
    )

    assert answer.tool_calls == []
    assert answer.finish_reason == "stop"
    assert "temperature c 18" in answer.text and "sunny" in answer.text
    assert "local time 2026-11-02 14:05" in answer.text
    assert len(events.of("text-delta")) > 10
    assert answer.usage.input_tokens > first.usage.input_tokens


def test_it_is_deterministic_and_the_same_streamed_or_not(weather_agent, run):
    tools = tool_specs(weather_agent.tools)
    request = ModelRequest(model="podium/demo-large", messages=QUESTION, tools=tools)

    streamed = run(call_model(request, stream=True))
    whole = run(call_model(request, stream=False))

    assert streamed.tool_calls == whole.tool_calls
    assert streamed.usage == whole.usage


def test_pattern_arguments_are_found_in_the_message(support_agent):
    tools = tool_specs(support_agent.tools)

    reply = demo_reply([{"role": "user", "content": "Where is my order CD-5678?"}], tools)

    assert [(name, json.loads(args)) for _, name, args in reply.tool_calls] == [
        ("lookup_order", {"order_id": "CD-5678"})
    ]


def test_no_matching_tool_gives_a_plain_answer():
    reply = demo_reply([{"role": "user", "content": "Tell me a joke"}], [])

    assert reply.tool_calls == ()
    assert "demo model" in reply.text and "Tell me a joke" in reply.text


def test_demo_agent_runs_through_call_with_fallbacks(weather_agent, run):
    result = run(call_with_fallbacks(weather_agent, weather_agent.model, QUESTION))

    assert [c.name for c in result.tool_calls] == ["get_weather", "get_time"]


@pytest.mark.parametrize("stream", [True, False])
def test_demo_structured_output(path, run, stream):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "rating": {"type": "integer", "default": 3}},
        "required": ["city", "rating"],
    }
    request = ModelRequest(
        model="podium/demo",
        messages=[{"role": "user", "content": "Rate the weather in Paris"}],
        output_schema=schema,
        path=path,
    )

    result = run(call_model(request, stream=stream))

    assert json.loads(result.text) == {"city": "Paris", "rating": 3}
