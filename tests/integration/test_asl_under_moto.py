"""The generated run machine executes under moto's Step Functions interpreter, with the Lambda
tasks dispatched in-process — the path the engine's differential tests build on."""

from __future__ import annotations

import inspect
import json

from moto.awslambda.models import LambdaFunction

from support.moto_sfn import moto_state_machine


class WeatherServiceError(Exception):
    pass


RUN = {"tenant": "t1", "session_id": "s1", "run_id": "r1", "agent": "weather", "agent_hash": "h"}


def test_moto_hook_signature():
    """If this fails after a moto upgrade, tests/support/moto_sfn.py must follow the new hook."""
    params = list(inspect.signature(LambdaFunction._invoke_lambda).parameters)
    assert params[:2] == ["self", "event"], params


def scripted_handlers(tool_failures: dict[str, int]):
    steps = iter(
        [
            {
                "number": 1,
                "next": "tools",
                "calls": [
                    {"call_id": "c1", "name": "get_weather"},
                    {"call_id": "c2", "name": "get_time"},
                    {"call_id": "c3", "name": "no_such_tool"},
                ],
            },
            {"number": 2, "next": "end", "calls": []},
        ]
    )

    def run_tool(event):
        name = event["call"]["name"]
        if tool_failures.get(name, 0) > 0:
            tool_failures[name] -= 1
            raise WeatherServiceError("flaky")
        return {"call_id": event["call"]["call_id"], "outcome": "ok"}

    return {
        "BeginRunArn": lambda e: {"number": 0, "next": "model", "calls": []},
        "ModelStepArn": lambda e: next(steps),
        "ToolRunnerArn": run_tool,
        "RecordToolsArn": lambda e: {"recorded": len(e["outcomes"])},
        "EndRunArn": lambda e: {"ok": True},
        "FailRunArn": lambda e: {"ok": True},
        "AwaitCallbackArn": lambda e: {"ok": True},
    }


def test_run_loop_with_parallel_tools_unknown_tool_and_retry():
    handlers = scripted_handlers({"get_weather": 1})
    with moto_state_machine(handlers) as machine:
        done = machine.run("r1", RUN)
        assert done["status"] == "SUCCEEDED", done
        names = [name for name, _ in machine.calls]
    assert names[0] == "BeginRunArn" and names[-1] == "EndRunArn"
    assert names.count("ModelStepArn") == 2
    assert names.count("ToolRunnerArn") == 3  # get_weather retried once, get_time once
    output = json.loads(done["output"])
    outcomes = {o["call_id"]: o for o in output["outcomes"]}
    assert outcomes["c1"]["outcome"] == outcomes["c2"]["outcome"] == "ok"
    assert outcomes["c3"]["error"]["Error"] == "Podium.UnknownTool"


def test_model_step_failure_goes_through_fail_run():
    handlers = scripted_handlers({})

    def broken(event):
        raise ValueError("boom")

    handlers["ModelStepArn"] = broken
    with moto_state_machine(handlers) as machine:
        done = machine.run("r2", RUN)
        names = [name for name, _ in machine.calls]
        fail_event = next(e for n, e in machine.calls if n == "FailRunArn")
    assert done["status"] == "FAILED"
    assert done["error"] == "Podium.RunFailed"
    assert names[-1] == "FailRunArn"
    assert fail_event["error"]["Error"] == "ValueError"
