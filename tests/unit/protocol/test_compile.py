"""The run state machine compiled from agents: shape, per-tool states, and freshness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from podium.cli.main import main
from podium.protocol.compile import (
    PODIUM_FUNCTIONS,
    compile_machine,
    function_map,
    lambda_substitution,
    substitutions_used,
)
from podium.protocol.loader import load_agent, load_agents

ROOT = Path(__file__).parents[3]


def write_agent(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "agent.yaml").write_text(body)
    return folder


def all_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for name, state in definition["States"].items():
        found[name] = state
        if state["Type"] == "Map":
            found.update(all_states(state["ItemProcessor"]))
    return found


def assert_well_formed(scope: dict[str, Any]) -> None:
    """Every transition names a state of the same scope, and every state is reachable."""
    states = scope["States"]
    reachable, pending = set(), [scope["StartAt"]]
    while pending:
        name = pending.pop()
        if name in reachable:
            continue
        assert name in states, f"transition to missing state {name!r}"
        reachable.add(name)
        state = states[name]
        targets = [state.get("Next"), state.get("Default")]
        targets += [c["Next"] for c in state.get("Choices", []) + state.get("Catch", [])]
        pending += [t for t in targets if t]
        assert state.get("End") or state["Type"] in {"Choice", "Succeed", "Fail"} or "Next" in state
        if state["Type"] == "Map":
            assert_well_formed(state["ItemProcessor"])
    assert reachable == set(states), f"unreachable: {set(states) - reachable}"


def test_checked_in_machine_is_fresh(capsys):
    status = main(
        ["build", "--check", "--agents", str(ROOT / "agents"), "--out", str(ROOT / "statemachines")]
    )
    assert status == 0, capsys.readouterr().out + " — run `podium build`"


def test_check_reports_stale_files(tmp_path, capsys):
    assert main(["build", "--check", "--agents", str(ROOT / "agents"), "--out", str(tmp_path)]) == 1
    assert "is stale" in capsys.readouterr().out
    assert main(["build", "--agents", str(ROOT / "agents"), "--out", str(tmp_path)]) == 0
    assert main(["build", "--check", "--agents", str(ROOT / "agents"), "--out", str(tmp_path)]) == 0


def test_examples_compile_to_a_well_formed_machine():
    agents = load_agents(ROOT / "agents").values()
    definition = compile_machine(agents)
    assert_well_formed(definition)
    assert substitutions_used(definition) == set(function_map(agents)["functions"])
    assert set(PODIUM_FUNCTIONS) <= substitutions_used(definition)


def test_tool_policies_become_states():
    agents = load_agents(ROOT / "agents")
    states = all_states(compile_machine(agents.values()))
    weather_map = states["Tools weather"]
    assert weather_map["MaxConcurrency"] == 4
    run_weather = weather_map["ItemProcessor"]["States"]["Run get_weather"]
    assert run_weather["TimeoutSeconds"] == 10
    assert run_weather["Retry"][0] == {
        "ErrorEquals": ["WeatherServiceError", "States.Timeout"],
        "IntervalSeconds": 1,
        "MaxAttempts": 2,
        "BackoffRate": 2.0,
    }
    assert run_weather["Catch"][0]["Next"] == "Failed get_weather"
    support = states["Tools support"]["ItemProcessor"]["States"]
    approve = support["Approve issue_refund"]
    assert approve["TimeoutSeconds"] == 86400
    assert approve["Resource"].endswith("lambda:invoke.waitForTaskToken")
    assert [c["Next"] for c in approve["Catch"]] == [
        "Denied issue_refund",
        "Denied issue_refund",
        "Failed issue_refund",
    ]
    client = support["Run get_customer_screen"]
    assert client["Parameters"]["Payload"]["kind"] == "client_tool"
    assert client["TimeoutSeconds"] == 300


def test_lambda_tools_and_approve_on_timeout(tmp_path):
    folder = write_agent(
        tmp_path / "ops",
        """
name: ops
model: podium/demo
limits: {max_parallel_tools: 3}
tools:
  - name: restart
    description: Restart a service.
    lambda: arn:aws:lambda:us-east-1:123456789012:function:restart-svc
    approval: {timeout_s: 60, on_timeout: approve}
    retry: {max_attempts: 4, interval_s: 2, errors: [States.ALL], max_delay_s: 30}
""",
    )
    loaded = load_agent(folder)
    definition = compile_machine([loaded])
    assert_well_formed(definition)
    states = definition["States"]["Tools ops"]["ItemProcessor"]["States"]
    timeout_catch = states["Approve restart"]["Catch"][1]
    assert timeout_catch == {
        "ErrorEquals": ["States.Timeout"],
        "ResultPath": None,
        "Next": "Run restart",
    }
    run = states["Run restart"]
    key = lambda_substitution("ops", "restart")
    # the tool runner invokes the function: its ARN is data for the task, not the resource
    assert run["Resource"] == "${ToolRunnerArn}"
    assert run["Parameters"]["function"] == "${" + key + "}"
    assert run["Retry"] == [
        {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": 2,
            "MaxAttempts": 3,
            "BackoffRate": 2.0,
            "MaxDelaySeconds": 30,
        }
    ]
    assert run["End"] is True
    functions = function_map([loaded])["functions"]
    assert functions[key]["function"].endswith(":function:restart-svc")


def test_agent_without_tools_has_no_map(tmp_path):
    loaded = load_agent(write_agent(tmp_path / "chat", "name: chat\nmodel: podium/demo\n"))
    definition = compile_machine([loaded])
    assert_well_formed(definition)
    assert "RouteTools" not in definition["States"]
    assert definition["States"]["NextAfterModel"]["Choices"][0]["Next"] == "NoTools"


def test_duplicate_agent_names_are_refused(tmp_path):
    loaded = load_agent(write_agent(tmp_path / "chat", "name: chat\nmodel: podium/demo\n"))
    with pytest.raises(Exception, match="share a name"):
        compile_machine([loaded, loaded])
