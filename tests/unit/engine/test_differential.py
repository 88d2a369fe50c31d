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


def assert_same(local, moto, *, compare_cause: bool = True, compare_history: bool = True):
    assert local.status == moto.status, (local, moto)
    if compare_history:  # Step Functions' history, event for event in number
        assert local.history == moto.history, (local.history, moto.history)
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


# ----------------------------------------------------------------- Step Functions' limits


def test_execution_timeout_ends_a_running_task(tmp_path):
    """The execution's TimeoutSeconds ends it, whatever its state is doing: TIMED_OUT, with
    no Catch or Retry involved."""
    definition = machine(
        {"T": task(Catch=CATCH, End=True), "Caught": {"Type": "Pass", "End": True}}
    )
    definition["TimeoutSeconds"] = 1

    def factory(side):
        def f(payload):
            time.sleep(2.5)
            return {}

        return {"F": f}

    local, moto = run_both(definition, factory, {}, tmp_path)
    assert local.status == moto.status == "TIMED_OUT"
    assert local.calls == moto.calls


def test_execution_timeout_ends_a_wait_on_a_token(tmp_path):
    wait = json.loads(json.dumps(WAIT))
    wait["W"]["TimeoutSeconds"] = 60
    definition = machine(wait)
    definition["TimeoutSeconds"] = 1
    local, moto = run_both(definition, lambda side: {"F": lambda payload: {}}, {"n": 1}, tmp_path)
    assert local.status == moto.status == "TIMED_OUT"


@pytest.mark.parametrize("beats", [0, 6])
def test_heartbeat_seconds(tmp_path, beats):
    """A task token's wait fails with States.HeartbeatTimeout when no heartbeat comes within
    HeartbeatSeconds; heartbeats keep it waiting until it is answered."""
    wait = json.loads(json.dumps(WAIT))
    wait["W"] |= {"TimeoutSeconds": 20, "HeartbeatSeconds": 1}

    def factory(side):
        def f(payload):
            token = payload["token"]

            def beat_then_answer() -> None:
                for _ in range(beats):
                    time.sleep(0.4)
                    side.send_heartbeat(token)
                side.send_success(token, {"done": True})

            if beats:
                side.later(beat_then_answer, delay=0.2)
            return {}

        return {"F": f}

    local, moto = run_both(machine(wait), factory, {"n": 1}, tmp_path)
    assert_same(local, moto, compare_cause=False)
    if beats:
        assert local.output == {"n": 1, "answer": {"done": True}}
    else:
        assert local.output["error"] == "States.HeartbeatTimeout"


def big(kilobytes: int) -> str:
    return "x" * (kilobytes * 1024)


@pytest.mark.parametrize("where", ["task", "map"])
def test_data_limit_exceeded_is_not_caught_by_states_all(tmp_path, where):
    """A result over 256 KB fails the state with States.DataLimitExceeded, and a Catch on
    States.ALL does not catch it: the execution fails."""
    if where == "task":
        states = {"T": task(Catch=CATCH, End=True), "Caught": {"Type": "Pass", "End": True}}
        factory = lambda side: {"F": lambda payload: {"blob": big(300)}}  # noqa: E731
    else:  # three iterations of 100 KB each: the Map's output is over the limit
        states = {
            "M": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "I",
                    "States": {"I": task(End=True)},
                },
                "Catch": CATCH,
                "End": True,
            },
            "Caught": {"Type": "Pass", "End": True},
        }
        factory = lambda side: {"F": lambda payload: {"blob": big(100)}}  # noqa: E731
    items = [{"lane": f"i{n}"} for n in range(3)]
    local, moto = run_both(machine(states), factory, {"items": items}, tmp_path)
    assert_same(local, moto, compare_cause=False, compare_history=False)
    assert (local.status, local.error) == ("FAILED", "States.DataLimitExceeded")


def test_data_under_the_limit_passes(tmp_path):
    definition = machine({"T": task(ResultPath="$.r", End=True)})
    factory = lambda side: {"F": lambda payload: {"blob": big(200)}}  # noqa: E731
    local, moto = run_both(definition, factory, {}, tmp_path)
    assert_same(local, moto)
    assert local.status == "SUCCEEDED"


def test_a_full_history_fails_the_execution(tmp_path):
    """A loop with no end: the event that would pass the history limit is replaced by the
    execution's failure, States.Runtime, as the limit's last event."""
    definition = machine(
        {
            "Spin": {"Type": "Pass", "Next": "Again"},
            "Again": {
                "Type": "Choice",
                "Choices": [{"Variable": "$.spin", "BooleanEquals": True, "Next": "Spin"}],
                "Default": "Done",
            },
            "Done": {"Type": "Succeed"},
        }
    )
    local, moto = run_both(definition, lambda side: {}, {"spin": True}, tmp_path, history_limit=50)
    assert_same(local, moto, compare_cause=False)
    assert (local.status, local.error, local.history) == ("FAILED", "States.Runtime", 50)
    assert local.cause == "The execution reached the maximum number of history events (50)."


def test_history_events_of_the_generated_machine_with_retries_and_waits(tmp_path):
    """Podium's own machine — approvals, a client tool, retries, a failed tool — writes the
    same number of history events under both executors."""
    definition = json.loads((ROOT / "statemachines" / "run.asl.json").read_text())
    functions = json.loads((ROOT / "statemachines" / "run.functions.json").read_text())

    def factory(side):
        steps = {"n": 0}

        def model_step(payload):
            steps["n"] += 1
            if steps["n"] == 1:
                calls = [
                    {"call_id": "c1", "name": "lookup_order"},
                    {"call_id": "c2", "name": "issue_refund"},
                    {"call_id": "c3", "name": "get_customer_screen"},
                ]
                return {"number": 1, "next": "tools", "calls": calls}
            return {"number": 2, "next": "end", "calls": []}

        tries: dict[str, int] = {}

        def run_tool(payload):
            call = payload["call"]
            tries[call["call_id"]] = tries.get(call["call_id"], 0) + 1
            if call["name"] == "lookup_order":
                raise named_error("LookupError")(f"attempt {tries[call['call_id']]}")
            return {"call_id": call["call_id"], "outcome": "ok"}

        def await_callback(payload):
            token = payload["task_token"]
            if payload["kind"] == "approval":
                side.later(lambda: side.send_success(token, {"approved": True}))
            else:
                side.later(lambda: side.send_failure(token, "Podium.ClientToolError", "gone"))
            return {}

        ok = lambda payload: {"ok": True}  # noqa: E731
        handlers = dict.fromkeys(functions["functions"], ok)
        handlers |= {
            "BeginRunArn": lambda payload: {"number": 0, "next": "model", "calls": []},
            "ModelStepArn": model_step,
            "ToolRunnerArn": run_tool,
            "AwaitCallbackArn": await_callback,
        }
        return handlers

    run = {"tenant": "t", "session_id": "s", "run_id": "r", "agent": "support", "agent_hash": "h"}
    local, moto = run_both(definition, factory, run, tmp_path)
    assert local.status == moto.status == "SUCCEEDED"
    assert local.history == moto.history > 60
