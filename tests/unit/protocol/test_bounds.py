"""An agent's runs are bounded from its file: how long they can live (waits included), how
long the session lease must last, how much history they write. `podium validate` refuses
what Step Functions cannot honour, and the bounds hold against moto's own history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from podium.cli.main import main
from podium.protocol.bounds import history_events, lease_seconds, lifetime_seconds
from podium.protocol.compile import compile_machine
from podium.protocol.loader import check_agent, load_agent
from podium.protocol.sfn_limits import TASK_ATTEMPT_EVENTS
from support.differential import named_error, run_moto


def write(folder: Path, body: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "agent.yaml").write_text(f"name: {folder.name}\nmodel: podium/demo\n" + body)
    (folder / "tools.py").write_text("def act(x=0):\n    return x\n")
    return folder


TOOL = """
tools:
  - name: act
    description: Act.
    parameters: {type: object, properties: {x: {type: integer}}}
    python: tools:act
"""


def codes(folder: Path) -> dict[str, str]:
    return {p.code: p.severity for p in check_agent(folder / "agent.yaml").problems}


def test_a_run_that_can_fill_the_history_is_refused(tmp_path, capsys):
    folder = write(
        tmp_path / "busy",
        TOOL + "limits: {max_steps: 200, max_tool_calls_per_step: 40}\n",
    )
    assert codes(folder) == {"history_limit": "error"}
    assert main(["validate", "--json", str(folder)]) == 1
    [problem] = json.loads(capsys.readouterr().out)["problems"]
    assert problem["path"] == "limits" and "25,000" in problem["message"]
    assert "max_tool_calls_per_step" in problem["hint"]


def test_a_wait_no_execution_can_outlive_is_refused(tmp_path):
    body = TOOL + "    approval: {timeout_s: 31536000}\n"
    assert codes(write(tmp_path / "patient", body)) == {"wait_too_long": "error"}


def test_a_tool_timeout_past_the_tool_runner_is_a_warning(tmp_path):
    folder = write(tmp_path / "slow", TOOL + "    timeout_s: 3600\n")
    assert codes(folder) == {"tool_timeout_too_long": "warning"}
    assert load_agent(folder) is not None  # a warning: it still loads (and runs locally)


def test_bounds_of_a_day_long_approval(tmp_path):
    body = TOOL + "    approval: {timeout_s: 86400}\nlimits: {max_run_seconds: 60, max_steps: 3}\n"
    agent = load_agent(write(tmp_path / "shop", body)).agent
    # 3 steps, each parking ceil(20 / 8) = 3 rounds of calls on a day-long wait
    assert lifetime_seconds(agent) >= 3 * 3 * 86_400 + 60
    assert lease_seconds(agent) == 60 + 120  # renewed by every step; a wait renews its own


def test_history_bound_holds_against_step_functions(tmp_path):
    """The worst path — every call failing after all its attempts, then the step limit —
    writes exactly the bound less the model step's retries that did not happen."""
    body = (
        TOOL
        + "    retry: {max_attempts: 2, interval_s: 1, errors: [Boom]}\n"
        + "limits: {max_steps: 1, max_tool_calls_per_step: 2}\n"
    )
    loaded = load_agent(write(tmp_path / "worst", body))
    definition = compile_machine([loaded])

    def factory(side):
        steps = {"n": 0}

        def model_step(payload):
            steps["n"] += 1
            if steps["n"] == 1:
                calls = [{"call_id": "a", "name": "act"}, {"call_id": "b", "name": "act"}]
                return {"number": 1, "next": "tools", "calls": calls}
            error = {"Error": "Podium.MaxSteps", "Cause": "one step at most"}
            return {"number": 2, "next": "fail", "calls": [], "error": error}

        def run_tool(payload):
            raise named_error("Boom")(payload["call"]["call_id"])

        ok = lambda payload: {"ok": True}  # noqa: E731
        return {
            "BeginRunArn": lambda payload: {"number": 0, "next": "model", "calls": []},
            "ModelStepArn": model_step,
            "ToolRunnerArn": run_tool,
            "RecordToolsArn": ok,
            "EndRunArn": ok,
            "FailRunArn": ok,
            "AwaitCallbackArn": ok,
        }

    run = {"tenant": "t", "session_id": "s", "run_id": "r", "agent": "worst", "agent_hash": "h"}
    done = run_moto(definition, factory, run)
    assert done.status == "FAILED" and done.error == "Podium.RunFailed"
    unexercised = 2 * 2 * TASK_ATTEMPT_EVENTS  # two model steps, each retried twice at worst
    assert history_events(loaded.agent) - done.history == unexercised


@pytest.mark.parametrize("agent", ["ops", "support", "weather"])
def test_the_repositorys_agents_are_within_bounds(agent):
    root = Path(__file__).parents[3] / "agents" / agent
    assert all(p.severity != "error" for p in check_agent(root / "agent.yaml").problems)
