"""The shipped example agents are valid, and load into the models the engine uses."""

from __future__ import annotations

from pathlib import Path

from podium.cli.main import main
from podium.protocol.agent import ApprovalPolicy
from podium.protocol.loader import load_agent, load_agents

AGENTS = Path(__file__).parents[3] / "agents"


def test_validate_passes_on_the_examples(capsys):
    assert main(["validate", str(AGENTS), "--strict"]) == 0
    assert "0 error(s), 0 warning(s)" in capsys.readouterr().out


def test_weather_has_two_parallel_tools_one_retried():
    weather = load_agent(AGENTS / "weather").agent
    assert [t.name for t in weather.tools] == ["get_weather", "get_time"]
    assert weather.limits.max_parallel_tools >= 2
    retry = weather.tool("get_weather").retry
    assert retry is not None and retry.max_attempts == 3
    assert weather.tool("get_time").retry is None
    assert {t.kind for t in weather.tools} == {"python"}


def test_support_routes_cheap_then_strong_with_approval_and_client_tool():
    loaded = load_agent(AGENTS / "support")
    support = loaded.agent
    assert [(r.condition, r.use) for r in support.routing][:2] == [
        ("first_step", "fast"),
        ("after_tool_results", "smart"),
    ]
    assert support.models["smart"].pricing is not None
    refund = support.tool("issue_refund")
    assert refund.approval_policy == ApprovalPolicy(timeout_s=86400, on_timeout="deny")
    assert support.tool("get_customer_screen").kind == "client"
    assert "{{company}}" in loaded.system_template


def test_load_agents_by_name_and_hash_is_stable():
    agents = load_agents(AGENTS)
    assert set(agents) >= {"weather", "support"}
    again = load_agent(AGENTS / "weather")
    assert agents["weather"].content_hash == again.content_hash
    assert len(again.content_hash) == 64
