"""The fake server through litellm's normal HTTP path (`openai/<model>` with `api_base`)."""

from __future__ import annotations

import asyncio
import json

import litellm
import pytest

from podium.testing import Fault, Reply, ToolCall, Usage

USER = [{"role": "user", "content": "Weather in Tokyo?"}]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
]
CALLS = [
    ToolCall("get_weather", {"city": "Tokyo"}),
    ToolCall("get_time", {"timezone": "Asia/Tokyo"}),
]


def call(server, **kwargs):
    kwargs.setdefault("messages", USER)
    return litellm.completion(
        model="openai/fake-model",
        api_base=server.base_url,
        api_key="sk-fake-key-0123456789",
        num_retries=0,
        **kwargs,
    )


def acall(server, **kwargs):
    kwargs.setdefault("messages", USER)
    return litellm.acompletion(
        model="openai/fake-model",
        api_base=server.base_url,
        api_key="sk-fake-key-0123456789",
        num_retries=0,
        **kwargs,
    )


def test_completion_text_usage_and_cost(fake_openai):
    fake_openai.script(
        Reply("Rainy.", usage=Usage(prompt_tokens=50, completion_tokens=2, cached_tokens=20))
    )

    response = call(fake_openai)

    assert response.choices[0].message.content == "Rainy."
    assert response.choices[0].finish_reason == "stop"
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (50, 2)
    assert response.usage.prompt_tokens_details.cached_tokens == 20


def test_acompletion_parallel_tool_calls_and_the_request_sent(fake_openai):
    fake_openai.script(Reply(tool_calls=CALLS))

    response = asyncio.run(acall(fake_openai, tools=TOOLS))

    calls = response.choices[0].message.tool_calls
    assert response.choices[0].finish_reason == "tool_calls"
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Tokyo"}),
        ("get_time", {"timezone": "Asia/Tokyo"}),
    ]
    (request,) = fake_openai.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.model == "fake-model"  # litellm strips the provider prefix
    assert request.body["tools"] == TOOLS
    assert request.body["messages"] == USER
    assert request.headers["authorization"] == "Bearer sk-…6789"  # masked


def test_acompletion_stream_reassembles_text_tools_and_usage(fake_openai, stream_result):
    fake_openai.script(Reply("Here you go.", tool_calls=CALLS, reasoning="Two tools at once."))

    async def run():
        stream = await acall(fake_openai, stream=True, stream_options={"include_usage": True})
        return [chunk async for chunk in stream]

    chunks = asyncio.run(run())

    result = stream_result(chunks)
    assert result["text"] == "Here you go."
    assert result["reasoning"] == "Two tools at once."
    assert [c["name"] for c in result["tool_calls"]] == ["get_weather", "get_time"]
    assert json.loads(result["tool_calls"][1]["arguments"]) == {"timezone": "Asia/Tokyo"}
    assert result["finish_reason"] == "tool_calls"
    assert result["usage"] is not None and result["usage"].total_tokens > 0
    rebuilt = litellm.stream_chunk_builder(chunks)
    assert [c.function.name for c in rebuilt.choices[0].message.tool_calls] == [
        "get_weather",
        "get_time",
    ]
    assert fake_openai.requests[0].stream


def test_sync_completion_stream_text(fake_openai, stream_result):
    fake_openai.script(Reply("alpha beta gamma delta", chunks=4))
    result = stream_result(list(call(fake_openai, stream=True)))
    assert result["text"] == "alpha beta gamma delta"


def test_rate_limit(fake_openai):
    fake_openai.script(Fault.rate_limit(retry_after=2))
    with pytest.raises(litellm.RateLimitError) as caught:
        asyncio.run(acall(fake_openai))
    assert caught.value.status_code == 429


def test_server_error(fake_openai):
    fake_openai.script(Fault.server_error(503))
    with pytest.raises((litellm.InternalServerError, litellm.ServiceUnavailableError)):
        asyncio.run(acall(fake_openai))


def test_hang_is_a_timeout(fake_openai):
    fake_openai.script(Fault.hang())
    with pytest.raises(litellm.Timeout):
        asyncio.run(acall(fake_openai, timeout=0.2))


@pytest.mark.parametrize("fault", [Fault.malformed_chunk(after=2), Fault.drop(after=2)])
def test_broken_streams_raise(fake_openai, fault):
    fake_openai.script(fault)

    async def run():
        stream = await acall(fake_openai, stream=True)
        return [chunk async for chunk in stream]

    # litellm wraps an error after the first chunk so a Router can fall back mid-stream.
    with pytest.raises(litellm.exceptions.MidStreamFallbackError):
        asyncio.run(run())


def test_fallback_requests_are_recorded_per_model(fake_openai):
    fake_openai.script(Fault.server_error(500), Reply("from the fallback"))

    response = litellm.completion(
        model="openai/primary",
        api_base=fake_openai.base_url,
        api_key="sk-fake",
        messages=USER,
        num_retries=0,
        fallbacks=[{"model": "openai/secondary", "api_base": fake_openai.base_url}],
    )

    assert response.choices[0].message.content == "from the fallback"
    assert [r.model for r in fake_openai.chat_requests] == ["primary", "secondary"]
