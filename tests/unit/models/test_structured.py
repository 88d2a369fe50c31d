"""Structured output: the schema goes to the provider, the answer is validated, one repair."""

from __future__ import annotations

import pytest

from podium.errors import ModelError
from podium.models import call_with_fallbacks
from podium.models.structured import parse_output
from podium.testing import Reply

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "temperature_c": {"type": "number"}},
    "required": ["city", "temperature_c"],
    "additionalProperties": False,
}
USER = [{"role": "user", "content": "Weather in Paris as JSON"}]


def test_a_valid_answer_is_parsed(fake_openai, make_agent, path, run):
    agent = make_agent(output=SCHEMA)
    fake_openai.script(Reply('{"city": "Paris", "temperature_c": 18}'))

    result = run(call_with_fallbacks(agent, "primary", USER, path=path))

    assert result.parsed == {"city": "Paris", "temperature_c": 18}
    body = fake_openai.chat_requests[0].body
    assert body["response_format"]["json_schema"]["schema"] == SCHEMA


def test_an_invalid_answer_gets_one_repair(fake_openai, make_agent, path, run, events):
    agent = make_agent(output=SCHEMA)
    fake_openai.script(
        Reply('{"city": "Paris"}', chunks=1), Reply('{"city": "Paris", "temperature_c": 18}')
    )

    result = run(call_with_fallbacks(agent, "primary", USER, path=path, on_event=events.append))

    assert result.parsed == {"city": "Paris", "temperature_c": 18}
    repair = fake_openai.chat_requests[1].body["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"city": "Paris"}'}
    assert "'temperature_c' is a required property" in repair[-1]["content"]
    assert [n.kind for n in events.of("notice")] == ["repair"]
    assert result.usage.input_tokens > 0
    assert [a.outcome for a in result.attempts] == ["ok", "ok"]


def test_a_second_invalid_answer_is_a_clear_error(fake_openai, make_agent, path, run):
    agent = make_agent(output=SCHEMA)
    fake_openai.script(Reply("Sunny, 18 degrees."), Reply("Still not JSON."))

    with pytest.raises(ModelError) as caught:
        run(call_with_fallbacks(agent, "primary", USER, path=path))

    assert caught.value.details["error"] == "invalid_output"
    assert not caught.value.retryable
    assert "output schema after one repair" in caught.value.message


def test_tool_calls_are_not_validated_against_the_output_schema(fake_openai, make_agent, run):
    from podium.testing import ToolCall

    agent = make_agent(output=SCHEMA)
    fake_openai.script(Reply(tool_calls=[ToolCall("lookup", {})]))

    result = run(call_with_fallbacks(agent, "primary", USER))

    assert result.parsed is None and len(result.tool_calls) == 1


def test_fenced_json_is_accepted():
    value, problem = parse_output(SCHEMA, '```json\n{"city": "Oslo", "temperature_c": -3}\n```')

    assert problem is None and value == {"city": "Oslo", "temperature_c": -3}
