"""The agent models on their own: shorthand, defaults, cross-field rules, hashing."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from podium.protocol.agent import Agent, ModelSpec, RoutingRule, Tool
from podium.protocol.loader import content_hash


def minimal(**fields) -> dict:
    return {"name": "demo", "model": "podium/demo", **fields}


def test_model_alias_shorthand_expands():
    agent = Agent.model_validate(minimal(models={"fast": "openai/gpt-4.1-mini"}, model="fast"))
    assert agent.models["fast"] == ModelSpec(model="openai/gpt-4.1-mini")
    assert agent.resolve_model("fast").model == "openai/gpt-4.1-mini"
    assert agent.resolve_model("anthropic/claude").model == "anthropic/claude"


def test_defaults_are_production_safe():
    agent = Agent.model_validate(minimal())
    assert agent.limits.max_steps == 10
    assert agent.limits.max_parallel_tools == 8
    assert agent.on_conflict == "reject"
    assert agent.context.strategy == "sliding"
    assert agent.retention.days == 30


@pytest.mark.parametrize(
    ("tool", "message"),
    [
        ({"name": "t", "description": "d"}, "exactly one implementation"),
        (
            {"name": "t", "description": "d", "python": "m:f", "client": True},
            "found python, client",
        ),
        ({"name": "t", "description": "d", "client": True, "retry": {}}, "cannot have `retry`"),
        (
            {"name": "t", "description": "d", "python": "m:f", "parameters": {"type": "array"}},
            "object schema",
        ),
        ({"name": "t", "description": "d", "python": "not a ref"}, "should match pattern"),
        ({"name": "t", "description": "d", "lambda": "arn:aws:s3:::bucket"}, "should match"),
    ],
)
def test_tool_rules(tool, message):
    with pytest.raises(ValidationError, match=message):
        Tool.model_validate(tool)


def test_tool_kinds_and_approval_forms():
    lam = Tool.model_validate(
        {
            "name": "t",
            "description": "d",
            "lambda": "arn:aws:lambda:us-east-1:123456789012:function:my-tool:live",
            "approval": "required",
        }
    )
    assert lam.kind == "lambda"
    assert lam.approval_policy is not None and lam.approval_policy.on_timeout == "deny"
    http = Tool.model_validate(
        {"name": "t", "description": "d", "http": {"url": "https://x.test/{id}", "method": "GET"}}
    )
    assert http.kind == "http" and http.approval_policy is None


def test_routing_rule_needs_exactly_one_condition():
    with pytest.raises(ValidationError, match="exactly one condition"):
        RoutingRule.model_validate({"use": "fast"})
    with pytest.raises(ValidationError, match="found 2"):
        RoutingRule.model_validate({"use": "fast", "first_step": True, "step": 2})
    assert RoutingRule(use="x", context_over_tokens=9000).condition == "context_over_tokens=9000"


def test_bad_redaction_pattern_is_rejected():
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        Agent.model_validate(minimal(redact={"patterns": ["("]}))


def test_agents_are_immutable():
    agent = Agent.model_validate(minimal())
    with pytest.raises(ValidationError):
        agent.name = "other"  # type: ignore[misc]


def test_content_hash_ignores_key_order():
    assert content_hash({"a": 1, "b": [1, 2]}) == content_hash({"b": [1, 2], "a": 1})
    assert content_hash({"a": 1}) != content_hash({"a": 2})
