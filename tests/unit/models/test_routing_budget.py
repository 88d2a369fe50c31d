"""Routing decisions and budgets: refusal and downgrade, decided before the call."""

from __future__ import annotations

import pytest

from podium.models import (
    call_with_fallbacks,
    check_budget,
    check_step_budget,
    choose_model,
    estimate_cost,
)
from podium.protocol.agent import Agent, ModelSpec
from podium.testing import Reply

USER = [{"role": "user", "content": "Where is my order AB-1234?"}]


@pytest.mark.parametrize(
    ("step", "after_tools", "context", "alias", "reason"),
    [
        (1, False, 100, "fast", "routing[0]: first_step"),
        (2, True, 100, "smart", "routing[1]: after_tool_results"),
        (3, False, 30_000, "smart", "routing[2]: context_over_tokens=24000"),
        (3, False, 100, "smart", "default model"),
    ],
)
def test_support_agent_routing(support_agent, *, step, after_tools, context, alias, reason):
    decision = choose_model(support_agent, step, after_tools, context)

    assert decision.alias_or_model == alias
    assert decision.reason == reason
    assert decision.spec == support_agent.models[alias]


def test_step_rule_and_bare_model_strings():
    agent = Agent.model_validate(
        {
            "name": "a",
            "model": "openai/gpt-4.1-mini",
            "models": {"big": "openai/gpt-4.1"},
            "routing": [{"step": 2, "use": "big"}],
        }
    )

    assert choose_model(agent, 2, False, 0).reason == "routing[0]: step=2"
    default = choose_model(agent, 1, False, 0)
    assert default.alias_or_model == "openai/gpt-4.1-mini"
    assert default.spec == ModelSpec(model="openai/gpt-4.1-mini")
    assert default.reason == "default model"


def _budget_agent(**limits):
    return Agent.model_validate(
        {
            "name": "b",
            "models": {
                "big": {
                    "model": "openai/big",
                    "pricing": {"input_per_million": 10, "output_per_million": 30},
                    "settings": {"max_output_tokens": 1000},
                },
                "small": {
                    "model": "openai/small",
                    "pricing": {"input_per_million": 0.1, "output_per_million": 0.4},
                    "settings": {"max_output_tokens": 1000},
                },
            },
            "model": "big",
            "limits": limits,
        }
    )


def count(model, messages, tools):
    return 1000  # prompt tokens, whatever the model


def test_estimate_is_prompt_times_input_plus_max_output_times_output():
    agent = _budget_agent()

    estimate = estimate_cost(agent.models["big"], USER, count=count)

    assert estimate == pytest.approx(1000 * 10e-6 + 1000 * 30e-6)  # $0.04


def test_within_budget_is_allowed():
    agent = _budget_agent(max_cost_usd={"run": 1.0})

    decision = check_step_budget(
        agent, "big", USER, run_cost_usd=0.5, session_cost_usd=0.5, count=count
    )

    assert decision.action == "allow"
    assert decision.alias == "big"
    assert decision.notice() is None


def test_run_budget_refusal_says_why():
    agent = _budget_agent(max_cost_usd={"run": 0.10})

    decision = check_step_budget(
        agent, "big", USER, run_cost_usd=0.08, session_cost_usd=0.08, count=count
    )

    assert decision.action == "stop"
    assert "run's budget of $0.1000" in decision.reason
    notice = decision.notice()
    assert notice is not None and notice.kind == "budget-stop"


def test_session_budget_refusal():
    agent = _budget_agent(max_cost_usd={"run": 1.0, "session": 2.0})

    decision = check_budget(agent, 0.0, 1.99, 0.04)

    assert decision.action == "stop"
    assert "session's budget" in decision.reason


def test_downgrade_to_the_declared_cheaper_model():
    agent = _budget_agent(max_cost_usd={"run": 0.10}, on_budget="downgrade", downgrade_to="small")

    decision = check_step_budget(
        agent, "big", USER, run_cost_usd=0.08, session_cost_usd=0.08, count=count
    )

    assert decision.action == "downgrade"
    assert decision.alias == "small"
    assert decision.estimated_cost_usd == pytest.approx(1000 * 0.1e-6 + 1000 * 0.4e-6)
    assert "downgraded from big to small" in decision.reason
    notice = decision.notice()
    assert notice is not None and notice.kind == "budget-downgrade"


def test_downgrade_that_does_not_fit_either_stops():
    agent = _budget_agent(max_cost_usd={"run": 0.10}, on_budget="downgrade", downgrade_to="small")

    decision = check_step_budget(
        agent, "big", USER, run_cost_usd=0.0999999, session_cost_usd=0.0, count=count
    )

    assert decision.action == "stop"
    assert "small would exceed it too" in decision.reason


def test_downgraded_call_goes_to_the_cheaper_model(fake_openai, run):
    base = fake_openai.base_url
    agent = Agent.model_validate(
        {
            "name": "b",
            "models": {
                "big": {"model": "openai/gpt-4.1", "api_base": base},
                "small": {"model": "openai/gpt-4.1-mini", "api_base": base},
            },
            "model": "big",
            "limits": {
                "max_cost_usd": {"run": 0.05},
                "on_budget": "downgrade",
                "downgrade_to": "small",
            },
        }
    )
    # litellm's prices: gpt-4.1 $2 / $8, gpt-4.1-mini $0.4 / $1.6 per million tokens;
    # 4,096 output tokens estimated: ~$0.033 vs ~$0.0066
    decision = check_step_budget(agent, "big", USER, run_cost_usd=0.03, session_cost_usd=0.03)
    assert decision.action == "downgrade"
    fake_openai.script(Reply("cheap answer"))

    result = run(call_with_fallbacks(agent, decision.alias, USER))

    assert result.model == "openai/gpt-4.1-mini"
    assert fake_openai.chat_requests[0].model == "gpt-4.1-mini"


def test_demo_models_are_free(support_agent):
    assert estimate_cost(ModelSpec(model="podium/demo"), USER) == 0.0
    # support's `smart` (podium/demo-large) declares its own pricing, which wins
    assert estimate_cost(support_agent.models["smart"], USER) > 0
