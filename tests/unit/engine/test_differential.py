"""Differential tests: the local executor against moto's Step Functions interpreter (the
oracle), on the generated run machine and a corpus of edge cases. Outputs must match, and the
handler calls must match per lane (per Map iteration)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from support.differential import comparable, named_error, run_both, strip_tokens

ROOT = Path(__file__).parents[3]


def task(resource: str = "${F}", **fields):
    return {"Type": "Task", "Resource": resource, **fields}


def machine(states: dict, start: str | None = None) -> dict:
    return {"StartAt": start or next(iter(states)), "States": states}


def assert_same(local, moto, *, compare_cause: bool = True):
    assert local.status == moto.status, (local, moto)
    assert comparable(local.output) == comparable(moto.output)
    assert local.error == moto.error
    if compare_cause:
        assert comparable(local.cause) == comparable(moto.cause)
    assert strip_tokens(local.calls) == strip_tokens(moto.calls)


def flaky(failures: int, error: str = "Flaky"):
    def factory(side):
        count = {"n": 0}

        def f(payload):
            count["n"] += 1
            if count["n"] <= failures:
                raise named_error(error)(f"attempt {count['n']}")
            return {"ok": count["n"]}

        return {"F": f}

    return factory


RETRY = [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1.0}]
CATCH = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}]


@pytest.mark.parametrize("failures", [0, 2, 3])
def test_retry_counts_then_catch(tmp_path, failures):
    definition = machine(
        {
            "T": task(Retry=RETRY, Catch=CATCH, ResultPath="$.result", End=True),
            "Caught": {"Type": "Pass", "Parameters": {"error.$": "$.error.Error"}, "End": True},
        }
    )
    local, moto = run_both(definition, flaky(failures), {"in": 1}, tmp_path)
    assert_same(local, moto)
    assert len(local.calls["main"]) == min(failures + 1, 3)


def test_first_matching_retrier_decides(tmp_path):
    retry = [
        {"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 1},
        {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 1, "MaxAttempts": 3},
    ]
    definition = machine({"T": task(Retry=retry, End=True)})
    local, moto = run_both(definition, flaky(5), {}, tmp_path)
    assert_same(local, moto)
    assert local.status == "FAILED" and len(local.calls["main"]) == 2


@pytest.mark.parametrize("result_path", ["$.error", "$", None])
def test_catch_result_paths(tmp_path, result_path):
    catch = [{"ErrorEquals": ["Boom"], "ResultPath": result_path, "Next": "After"}]
    definition = machine(
        {
            "T": task(Catch=catch, OutputPath="$.never", End=True),
            "After": {"Type": "Pass", "End": True},
        }
    )

    def factory(side):
        def f(payload):
            raise named_error("Boom")("it broke")

        return {"F": f}

    local, moto = run_both(definition, factory, {"keep": "me"}, tmp_path)
    assert_same(local, moto)


def test_uncaught_python_exception_fails_with_its_class_name(tmp_path):
    def factory(side):
        def f(payload):
            raise ValueError("bad value")

        return {"F": f}

    local, moto = run_both(machine({"T": task(End=True)}), factory, {}, tmp_path)
    assert_same(local, moto)
    assert local.error == "ValueError"
    assert comparable(local.cause) == {"lambda_error": ("ValueError", "bad value")}


def test_paths_and_selectors(tmp_path):
    definition = machine(
        {
            "T": task(
                InputPath="$.inner",
                Parameters={"x.$": "$.x", "const": 7, "nested": {"y.$": "$.y[1]"}},
                ResultSelector={"got.$": "$.echo.x", "name.$": "$$.State.Name"},
                ResultPath="$.inner.result",
                OutputPath="$.inner",
                Next="P",
            ),
            "P": {"Type": "Pass", "Result": {"fixed": True}, "ResultPath": "$.pass", "End": True},
        }
    )

    def factory(side):
        return {"F": lambda payload: {"echo": payload}}

    local, moto = run_both(definition, factory, {"inner": {"x": 1, "y": [5, 6]}}, tmp_path)
    assert_same(local, moto)
    assert local.output["result"] == {"got": 1, "name": "T"}


@pytest.mark.parametrize(
    "value",
    [
        {"n": 5, "s": "go", "b": True},
        {"n": 50, "s": "stop", "b": False},
        {"n": 1, "s": "x", "b": False},
        {"n": 100, "s": "x"},
    ],
)
def test_choice_rules(tmp_path, value):
    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [
                    {
                        "And": [
                            {"Variable": "$.n", "NumericLessThan": 10},
                            {"Variable": "$.b", "BooleanEquals": True},
                        ],
                        "Next": "Small",
                    },
                    {
                        "Or": [
                            {"Variable": "$.s", "StringEquals": "stop"},
                            {"Variable": "$.n", "NumericGreaterThanEquals": 100},
                        ],
                        "Next": "Stop",
                    },
                    {"Not": {"Variable": "$.b", "IsPresent": True}, "Next": "NoFlag"},
                ],
                "Default": "Other",
            },
            "Small": {"Type": "Pass", "Result": {"r": "small"}, "End": True},
            "Stop": {"Type": "Pass", "Result": {"r": "stop"}, "End": True},
            "NoFlag": {"Type": "Pass", "Result": {"r": "noflag"}, "End": True},
            "Other": {"Type": "Pass", "Result": {"r": "other"}, "End": True},
        }
    )
    local, moto = run_both(definition, lambda side: {}, value, tmp_path)
    assert_same(local, moto)


def test_choice_on_a_missing_variable_fails_as_in_aws(tmp_path):
    """AWS fails the execution with States.Runtime when a comparison's Variable is missing;
    moto 5.2.5 evaluates the comparison as false instead. Podium follows AWS (local only)."""
    from support.differential import run_local

    definition = machine(
        {
            "C": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.missing", "StringEquals": "x", "Next": "A"}],
                "Default": "A",
            },
            "A": {"Type": "Pass", "End": True},
        }
    )
    local = run_local(definition, lambda side: {}, {}, tmp_path)
    assert (local.status, local.error) == ("FAILED", "States.Runtime")


def test_fail_state(tmp_path):
    definition = machine({"X": {"Type": "Fail", "Error": "My.Error", "Cause": "because"}})
    local, moto = run_both(definition, lambda side: {}, {}, tmp_path)
    assert_same(local, moto)
    assert (local.status, local.error, local.cause) == ("FAILED", "My.Error", "because")


def test_map_concurrency_selector_and_iteration_failure(tmp_path):
    definition = machine(
        {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": 2,
                "ItemSelector": {
                    "lane.$": "$$.Map.Item.Value.id",
                    "index.$": "$$.Map.Item.Index",
                    "tag.$": "$.tag",
                },
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Work",
                    "States": {
                        "Work": task(
                            Retry=RETRY,
                            Catch=[
                                {
                                    "ErrorEquals": ["States.ALL"],
                                    "ResultPath": "$.error",
                                    "Next": "Bad",
                                }
                            ],
                            ResultSelector={"lane.$": "$.lane", "out.$": "$.out"},
                            End=True,
                        ),
                        "Bad": {
                            "Type": "Pass",
                            "Parameters": {"lane.$": "$.lane", "failed": True},
                            "End": True,
                        },
                    },
                },
                "ResultPath": "$.results",
                "End": True,
            }
        }
    )
    active = {"now": 0, "max": 0}

    def factory(side):
        import threading

        lock = threading.Lock()
        attempts: dict[str, int] = {}

        def f(payload):
            with lock:
                active["now"] += 1
                active["max"] = max(active["max"], active["now"])
                attempts[payload["lane"]] = attempts.get(payload["lane"], 0) + 1
                n = attempts[payload["lane"]]
            time.sleep(0.05)
            with lock:
                active["now"] -= 1
            if payload["lane"] == "b" and n == 1:
                raise named_error("Flaky")("once")
            if payload["lane"] == "d":
                raise named_error("Fatal")("always")
            return {"lane": payload["lane"], "out": payload["index"] * 10}

        return {"F": f}

    items = {"tag": "t", "items": [{"id": x} for x in "abcde"]}
    local, moto = run_both(definition, factory, items, tmp_path)
    assert_same(local, moto)
    assert active["max"] <= 2
    assert local.output["results"][3] == {"lane": "d", "failed": True}


def test_task_timeout(tmp_path):
    definition = machine(
        {
            "T": task(TimeoutSeconds=1, Catch=CATCH, End=True),
            "Caught": {"Type": "Pass", "Parameters": {"error.$": "$.error.Error"}, "End": True},
        }
    )

    def factory(side):
        def f(payload):
            time.sleep(2.5)
            return {}

        return {"F": f}

    local, moto = run_both(definition, factory, {}, tmp_path)
    assert_same(local, moto, compare_cause=False)
    assert local.output == {"error": "States.Timeout"}


WAIT = {
    "W": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {
            "FunctionName": "${F}",
            "Payload": {"token.$": "$$.Task.Token", "n.$": "$.n"},
        },
        "TimeoutSeconds": 2,
        "ResultPath": "$.answer",
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Caught"}],
        "End": True,
    },
    "Caught": {
        "Type": "Pass",
        "Parameters": {"error.$": "$.error.Error", "cause.$": "$.error.Cause"},
        "End": True,
    },
}


@pytest.mark.parametrize("answer", ["success", "failure", "timeout"])
def test_task_token(tmp_path, answer):
    def factory(side):
        def f(payload):
            token = payload["token"]
            if answer == "success":
                side.later(lambda: side.send_success(token, {"approved": True}))
            elif answer == "failure":
                side.later(lambda: side.send_failure(token, "Podium.Denied", "no"))
            return {}

        return {"F": f}

    local, moto = run_both(machine(WAIT), factory, {"n": 1}, tmp_path)
    if answer == "failure":  # moto 5.2.5 drops SendTaskFailure's cause; AWS keeps it
        moto.output["cause"] = "no"
    assert_same(local, moto)
    expected = {
        "success": {"n": 1, "answer": {"approved": True}},
        "failure": {"error": "Podium.Denied", "cause": "no"},
    }
    if answer != "timeout":
        assert local.output == expected[answer]
    else:
        assert local.output["error"] == "States.Timeout"


def test_generated_run_machine(tmp_path):
    definition = json.loads((ROOT / "statemachines" / "run.asl.json").read_text())
    functions = json.loads((ROOT / "statemachines" / "run.functions.json").read_text())

    def factory(side):
        steps = {"n": 0}

        def model_step(payload):
            steps["n"] += 1
            if steps["n"] == 1:
                calls = [
                    {"call_id": "c1", "name": "get_weather"},
                    {"call_id": "c2", "name": "get_time"},
                    {"call_id": "c3", "name": "nope"},
                ]
                return {"number": 1, "next": "tools", "calls": calls}
            return {"number": 2, "next": "end", "calls": []}

        tries: dict[str, int] = {}

        def run_tool(payload):
            call = payload["call"]
            tries[call["call_id"]] = tries.get(call["call_id"], 0) + 1
            if call["name"] == "get_weather" and tries[call["call_id"]] == 1:
                raise named_error("WeatherServiceError")("flaky")
            if call["name"] == "get_time":
                raise RuntimeError("clock broken")
            return {"call_id": call["call_id"], "outcome": "ok"}

        ok = lambda payload: {"ok": True}  # noqa: E731
        handlers = dict.fromkeys(functions["functions"], ok)
        handlers |= {
            "BeginRunArn": lambda payload: {"number": 0, "next": "model", "calls": []},
            "ModelStepArn": model_step,
            "ToolRunnerArn": run_tool,
        }
        return handlers

    run = {"tenant": "t", "session_id": "s", "run_id": "r", "agent": "weather", "agent_hash": "h"}
    local, moto = run_both(definition, factory, run, tmp_path)
    assert local.status == "SUCCEEDED"
    assert comparable(local.output) == comparable(moto.output)
    assert sorted(json.dumps(comparable(c)) for c in local.calls["main"]) == sorted(
        json.dumps(comparable(c)) for c in moto.calls["main"]
    )
    outcomes = {o["call_id"]: o for o in local.output["outcomes"]}
    assert outcomes["c1"]["outcome"] == "ok"
    assert outcomes["c2"]["error"]["Error"] == "RuntimeError"
    assert outcomes["c3"]["error"]["Error"] == "Podium.UnknownTool"
