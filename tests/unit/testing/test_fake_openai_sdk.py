"""The fake server through the official openai SDK, sync and async, over real HTTP."""

from __future__ import annotations

import asyncio
import json

import openai
import pytest

from podium.testing import FakeOpenAI, Fault, Reply, ToolCall, Usage

USER = [{"role": "user", "content": "What is the weather in Paris?"}]
WEATHER_CALLS = [
    ToolCall("get_weather", {"city": "Paris"}, id="call_weather"),
    ToolCall("get_time", {"timezone": "Europe/Paris"}),
]


def client(server: FakeOpenAI, **kwargs) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="sk-fake", max_retries=0, **kwargs)


def test_non_streaming_text_echoes_the_model_and_computes_usage(fake_openai):
    fake_openai.script(Reply("Sunny, 21 °C."))

    response = client(fake_openai).chat.completions.create(model="gpt-test", messages=USER)

    assert response.object == "chat.completion"
    assert response.id.startswith("chatcmpl-")
    assert response.model == "gpt-test"
    assert response.created > 0
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "Sunny, 21 °C."
    assert choice.finish_reason == "stop"
    assert response.usage is not None
    assert response.usage.completion_tokens == 4  # 13 characters, ~4 a token
    assert response.usage.total_tokens == response.usage.prompt_tokens + 4


def test_default_responder_echoes_the_last_user_message(fake_openai):
    response = client(fake_openai).chat.completions.create(model="m", messages=USER)
    assert response.choices[0].message.content == "What is the weather in Paris?"


def test_streaming_text_is_reassembled_in_the_requested_number_of_chunks(
    fake_openai, stream_result
):
    fake_openai.script(Reply("The quick brown fox jumps over the lazy dog.", chunks=5))

    stream = client(fake_openai).chat.completions.create(model="m", messages=USER, stream=True)
    chunks = list(stream)

    assert all(c.object == "chat.completion.chunk" and c.model == "m" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    content = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(content) == 5
    result = stream_result(chunks)
    assert result["text"] == "The quick brown fox jumps over the lazy dog."
    assert result["finish_reason"] == "stop"
    assert result["usage"] is None  # not asked for


def test_parallel_tool_calls_non_streaming(fake_openai):
    fake_openai.script(Reply(tool_calls=WEATHER_CALLS))

    response = client(fake_openai).chat.completions.create(model="m", messages=USER)

    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = choice.message.tool_calls
    assert calls is not None
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert calls[0].id == "call_weather"
    assert calls[1].id.startswith("call_")
    assert json.loads(calls[0].function.arguments) == {"city": "Paris"}
    assert json.loads(calls[1].function.arguments) == {"timezone": "Europe/Paris"}


def test_parallel_tool_calls_stream_like_openai(fake_openai, stream_result):
    fake_openai.script(Reply(tool_calls=WEATHER_CALLS, chunks=3))

    chunks = list(
        client(fake_openai).chat.completions.create(model="m", messages=USER, stream=True)
    )

    # First chunk of each call: index, id, type, name, empty arguments; then fragments by index.
    deltas = [d for c in chunks for d in (c.choices[0].delta.tool_calls or [])]
    headers = [d for d in deltas if d.id]
    assert [(d.index, d.type, d.function.name, d.function.arguments) for d in headers] == [
        (0, "function", "get_weather", ""),
        (1, "function", "get_time", ""),
    ]
    fragments = [d for d in deltas if not d.id]
    assert len(fragments) == 6
    assert all(d.function.name is None for d in fragments)
    assert chunks[0].choices[0].delta.role == "assistant"  # role shares the first call's chunk
    result = stream_result(chunks)
    assert result["finish_reason"] == "tool_calls"
    assert [(c["name"], json.loads(c["arguments"])) for c in result["tool_calls"]] == [
        ("get_weather", {"city": "Paris"}),
        ("get_time", {"timezone": "Europe/Paris"}),
    ]
    assert result["tool_calls"][0]["id"] == "call_weather"


def test_include_usage_sends_a_final_chunk_with_usage_and_no_choices(fake_openai, stream_result):
    usage = Usage(prompt_tokens=120, completion_tokens=30, cached_tokens=100, reasoning_tokens=12)
    fake_openai.script(Reply("Thinking done.", reasoning="Let me think.", usage=usage))

    chunks = list(
        client(fake_openai).chat.completions.create(
            model="m", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )

    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens) == (120, 30)
    assert last.usage.total_tokens == 150
    assert last.usage.prompt_tokens_details.cached_tokens == 100
    assert last.usage.completion_tokens_details.reasoning_tokens == 12
    assert all(c.usage is None for c in chunks[:-1])
    result = stream_result(chunks)
    assert (result["reasoning"], result["text"]) == ("Let me think.", "Thinking done.")


def test_length_finish_reason(fake_openai):
    fake_openai.script(Reply("cut", finish_reason="length"))
    response = client(fake_openai).chat.completions.create(model="m", messages=USER)
    assert response.choices[0].finish_reason == "length"


def test_async_client_streams_and_reuses_its_connection(fake_openai, stream_result):
    fake_openai.script(Reply("one two three"), Reply(tool_calls=WEATHER_CALLS))

    async def run() -> tuple[dict, dict]:
        async with openai.AsyncOpenAI(
            base_url=fake_openai.base_url, api_key="sk-fake", max_retries=0
        ) as aclient:
            first = await aclient.chat.completions.create(model="m", messages=USER, stream=True)
            text = stream_result([c async for c in first])
            second = await aclient.chat.completions.create(model="m", messages=USER, stream=True)
            return text, stream_result([c async for c in second])

    text, calls = asyncio.run(run())

    assert text["text"] == "one two three"
    assert [c["name"] for c in calls["tool_calls"]] == ["get_weather", "get_time"]


def test_models_route(fake_openai):
    models = client(fake_openai).models.list()
    assert [m.id for m in models.data] == ["gpt-4o-mini"]


# -- faults ----------------------------------------------------------------------------


def test_rate_limit_is_a_rate_limit_error_with_retry_after(fake_openai):
    fake_openai.script(Fault.rate_limit(retry_after=7))

    with pytest.raises(openai.RateLimitError) as caught:
        client(fake_openai).chat.completions.create(model="m", messages=USER)

    assert caught.value.status_code == 429
    assert caught.value.response.headers["retry-after"] == "7"
    assert caught.value.response.headers["retry-after-ms"] == "7000"
    assert caught.value.code == "rate_limit_exceeded"


def test_retry_after_is_honoured_by_the_sdk_retry(fake_openai):
    fake_openai.script(Fault.rate_limit(retry_after=0.3), Reply("after the wait"))

    response = openai.OpenAI(
        base_url=fake_openai.base_url, api_key="sk-fake", max_retries=1
    ).chat.completions.create(model="m", messages=USER)

    assert response.choices[0].message.content == "after the wait"
    first, second = fake_openai.requests
    assert second.monotonic - first.monotonic >= 0.3
    assert second.headers["x-stainless-retry-count"] == "1"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors(fake_openai, status):
    fake_openai.script(Fault.server_error(status))

    with pytest.raises(openai.InternalServerError) as caught:
        client(fake_openai).chat.completions.create(model="m", messages=USER)

    assert caught.value.status_code == status


def test_client_errors_keep_their_status(fake_openai):
    fake_openai.script(Fault.error(400, "context too long", code="context_length_exceeded"))

    with pytest.raises(openai.BadRequestError) as caught:
        client(fake_openai).chat.completions.create(model="m", messages=USER)

    assert caught.value.code == "context_length_exceeded"


def test_hang_times_out_on_the_client(fake_openai):
    fake_openai.script(Fault.hang(), Reply("next"))
    hanging = client(fake_openai, timeout=0.2)

    with pytest.raises(openai.APITimeoutError):
        hanging.chat.completions.create(model="m", messages=USER)

    # The server is not wedged: the next request is answered.
    response = client(fake_openai).chat.completions.create(model="m", messages=USER)
    assert response.choices[0].message.content == "next"


def test_malformed_chunk_raises_after_the_good_chunks(fake_openai):
    fake_openai.script(Fault.malformed_chunk(after=3))
    received = []

    with pytest.raises(json.JSONDecodeError):
        for chunk in client(fake_openai).chat.completions.create(
            model="m", messages=USER, stream=True
        ):
            received.append(chunk)

    assert len(received) == 3


@pytest.mark.parametrize("reset", [False, True])
def test_dropped_connection_raises_mid_stream(fake_openai, reset):
    fake_openai.script(Fault.drop(after=2, reset=reset))
    received = []

    with pytest.raises(openai.APIConnectionError):
        for chunk in client(fake_openai).chat.completions.create(
            model="m", messages=USER, stream=True
        ):
            received.append(chunk)

    assert len(received) <= 2


def test_dropped_connection_before_a_non_streaming_answer(fake_openai):
    fake_openai.script(Fault.drop())
    with pytest.raises(openai.APIConnectionError):
        client(fake_openai).chat.completions.create(model="m", messages=USER)


def test_bad_json_body(fake_openai):
    fake_openai.script(Fault.bad_json_body())
    with pytest.raises(json.JSONDecodeError):
        client(fake_openai).chat.completions.create(model="m", messages=USER)
