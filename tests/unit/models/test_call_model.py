"""`call_model` over real HTTP against the fake server, on both call paths: text, reasoning,
parallel tool calls, streamed and not, with usage and cost."""

from __future__ import annotations

import json

import pytest

from podium.models import ModelRequest, call_model
from podium.models.client import choose_path
from podium.protocol.agent import ModelPricing, ModelSettings
from podium.testing import Reply, ToolCall, Usage

CALLS = [
    ToolCall("get_weather", {"city": "Paris"}, id="call_w"),
    ToolCall("get_time", {"timezone": "Europe/Paris"}, id="call_t"),
]
# gpt-4.1-mini in litellm's price map: $0.40 / $1.60 per million, cached input $0.10.
IN, OUT, CACHED = 0.4e-6, 1.6e-6, 0.1e-6


USER = [{"role": "user", "content": "What's the weather and time in Paris?"}]


def request(server, path, **kwargs):
    kwargs.setdefault("model", "openai/gpt-4.1-mini")
    kwargs.setdefault("messages", USER)
    return ModelRequest(api_base=server.base_url, path=path, **kwargs)


@pytest.mark.parametrize("stream", [True, False])
def test_text_reasoning_usage_and_cost(fake_openai, path, events, stream, run):
    usage = Usage(prompt_tokens=1000, completion_tokens=200, cached_tokens=400, reasoning_tokens=50)
    fake_openai.script(Reply("It is sunny in Paris.", reasoning="Look it up.", usage=usage))

    result = run(call_model(request(fake_openai, path), on_event=events.append, stream=stream))

    assert result.text == "It is sunny in Paris."
    assert result.reasoning == "Look it up."
    assert result.finish_reason == "stop"
    assert result.usage.input_tokens == 1000
    assert result.usage.output_tokens == 200
    assert result.usage.cached_tokens == 400
    assert result.usage.reasoning_tokens == 50
    assert result.usage.cost_usd == pytest.approx(600 * IN + 400 * CACHED + 200 * OUT)
    assert result.usage.priced
    assert result.model == "openai/gpt-4.1-mini"
    assert result.latency_ms > 0 and result.ttft_ms is not None
    assert [a.outcome for a in result.attempts] == ["ok"]
    assert result.attempts[0].path == path
    text = "".join(e.delta for e in events.of("text-delta"))
    assert text == "It is sunny in Paris."
    assert len(events.of("text-delta")) == (5 if stream else 1)  # a word per chunk
    assert events.types[-2:] == ["usage", "finish"]
    assert events.of("usage")[0].usage == result.usage


@pytest.mark.parametrize("stream", [True, False])
def test_parallel_tool_calls_are_all_kept(fake_openai, path, events, stream, run):
    fake_openai.script(Reply(tool_calls=CALLS))

    result = run(call_model(request(fake_openai, path), on_event=events.append, stream=stream))

    assert [(c.id, c.name, json.loads(c.arguments_json)) for c in result.tool_calls] == [
        ("call_w", "get_weather", {"city": "Paris"}),
        ("call_t", "get_time", {"timezone": "Europe/Paris"}),
    ]
    assert result.finish_reason == "tool_calls"
    starts = events.of("tool-call-start")
    assert [(s.index, s.id, s.name) for s in starts] == [
        (0, "call_w", "get_weather"),
        (1, "call_t", "get_time"),
    ]
    for index, call in enumerate(result.tool_calls):
        fragments = [e.arguments_fragment for e in events.of("tool-call-delta") if e.index == index]
        assert "".join(fragments) == call.arguments_json
    done = events.of("tool-call-done")
    assert [d.arguments_json for d in done] == [c.arguments_json for c in result.tool_calls]
    assert result.assistant_message()["tool_calls"][1]["function"]["name"] == "get_time"


def test_streamed_usage_is_requested_and_counted(fake_openai, path, run):
    fake_openai.script(Reply("one two three", chunks=3))

    result = run(call_model(request(fake_openai, path), stream=True))

    body = fake_openai.chat_requests[0].body
    assert body["stream_options"] == {"include_usage": True}
    # the fake counts ~4 characters a token: 4 + ceil(37 / 4) for the prompt
    assert result.usage.input_tokens == 4 + 10
    assert result.usage.output_tokens == 4


def test_both_paths_send_the_same_request(fake_openai, run):
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    settings = ModelSettings(temperature=0.2, max_output_tokens=64, top_p=0.9)
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    bodies = []
    for path in ("lean", "litellm"):
        fake_openai.script(Reply("ok"))
        req = request(fake_openai, path, tools=tools, settings=settings, output_schema=schema)
        run(call_model(req, stream=True))
        bodies.append(fake_openai.chat_requests[-1].body)
    assert bodies[0] == bodies[1]
    assert bodies[0]["max_tokens"] == 64
    assert bodies[0]["response_format"]["json_schema"]["schema"] == schema


def test_agent_pricing_prices_unknown_models(fake_openai, path, run):
    pricing = ModelPricing(input_per_million=2.0, output_per_million=8.0)
    fake_openai.script(Reply("ok", usage=Usage(prompt_tokens=1_000_000, completion_tokens=500_000)))

    req = request(fake_openai, path, model="openai/in-house-model", pricing=pricing)
    result = run(call_model(req, stream=True))

    assert result.usage.cost_usd == pytest.approx(2.0 + 4.0)


def test_unknown_model_without_pricing_costs_zero_and_says_so(fake_openai, path, run):
    fake_openai.script(Reply("ok"))

    result = run(call_model(request(fake_openai, path, model="openai/in-house-model")))

    assert result.usage.cost_usd == 0.0
    assert not result.usage.priced


def test_cost_matches_litellms_own_calculation():
    import litellm

    from podium.models.cost import compute_cost

    cost, priced = compute_cost(
        "openai/gpt-4.1-mini", input_tokens=1000, output_tokens=200, cached_tokens=400
    )
    prompt, completion = litellm.cost_per_token(
        model="gpt-4.1-mini",
        custom_llm_provider="openai",
        prompt_tokens=1000,
        completion_tokens=200,
        cache_read_input_tokens=400,
    )
    assert priced
    assert cost == pytest.approx(prompt + completion)


def test_auto_path_choice():
    def path_of(model, **kwargs):
        return choose_path(ModelRequest(model=model, messages=USER, **kwargs))

    assert path_of("podium/demo") == "lean"
    assert path_of("openai/gpt-4.1-mini") == "lean"
    assert path_of("openai/o3-mini") == "litellm"  # a reasoning model: litellm adapts params
    assert path_of("openai/gpt-4.1-mini", settings=ModelSettings(reasoning_effort="low")) == (
        "litellm"
    )
    assert path_of("anthropic/claude-sonnet-4-5") == "litellm"
    assert path_of("openai/gpt-4.1-mini", path="litellm") == "litellm"
    assert path_of("anthropic/claude-sonnet-4-5", path="lean") == "litellm"  # not eligible


def test_call_path_from_the_environment(monkeypatch):
    monkeypatch.setenv("PODIUM_MODEL_CALL_PATH", "litellm")

    assert choose_path(ModelRequest(model="openai/gpt-4.1-mini", messages=USER)) == "litellm"
