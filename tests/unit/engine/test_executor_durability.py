"""The local executor survives what a process does not: a crash mid-run, a token answered
while its run is not loaded, a cancel; and it refuses what it cannot run faithfully."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time

import pytest

from podium.engine.asl import AslError
from podium.engine.executor import LocalExecutor
from podium.errors import NotFoundError
from podium.store.sqlite import SqliteStore

TWO_STEPS = {
    "StartAt": "One",
    "States": {
        "One": {"Type": "Task", "Resource": "${One}", "ResultPath": "$.one", "Next": "Two"},
        "Two": {"Type": "Task", "Resource": "${Two}", "ResultPath": "$.two", "End": True},
    },
}
WAIT = {
    "StartAt": "Ask",
    "States": {
        "Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "${Ask}", "Payload": {"token.$": "$$.Task.Token"}},
            "ResultPath": "$.answer",
            "End": True,
        }
    },
}


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "podium.db")
    yield store
    store.close()


def test_a_crashed_run_resumes_at_the_state_it_was_in(store):
    calls = {"One": 0, "Two": 0}
    stuck = threading.Event()

    def one(payload):
        calls["One"] += 1
        return 1

    def two_hangs(payload):  # the first runner "dies" here: its thread never returns
        calls["Two"] += 1
        stuck.set()
        threading.Event().wait()

    first = LocalExecutor(TWO_STEPS, {"One": one, "Two": two_hangs}, store, owner="dead")
    first.start("run-1", {"x": 1})
    assert stuck.wait(5)
    checkpoint = store.get_checkpoint("run-1")
    assert checkpoint.state["frame"]["state"] == "Two"

    def two(payload):
        calls["Two"] += 1
        return 2

    finished = []
    second = LocalExecutor(
        TWO_STEPS,
        {"One": one, "Two": two},
        store,
        owner="alive",
        on_finish=lambda name, payload, result: finished.append(result),
    )
    result = second.resume(checkpoint, wait=True)
    assert result is not None and result.status == "SUCCEEDED"
    assert result.output == {"x": 1, "one": 1, "two": 2}
    assert calls == {"One": 1, "Two": 2}  # state One is not run again; Two runs at least once
    stored = store.get_checkpoint("run-1")
    assert stored.terminal and stored.owner == "alive"
    assert finished[0].status == "SUCCEEDED"


def test_a_replayable_task_is_not_checkpointed_and_runs_again_on_resume(store):
    calls = {"One": 0, "Two": 0}
    stuck = threading.Event()

    def one(payload):  # stores its own outcome: asked again, it answers the same
        calls["One"] += 1
        return 1

    def two_hangs(payload):
        calls["Two"] += 1
        stuck.set()
        threading.Event().wait()

    first = LocalExecutor(
        TWO_STEPS, {"One": one, "Two": two_hangs}, store, owner="dead", replayable={"One"}
    )
    first.start("run-1", {"x": 1})
    assert stuck.wait(5)
    checkpoint = store.get_checkpoint("run-1")
    assert checkpoint.state["frame"]["state"] == "One"  # the move past One was not written
    second = LocalExecutor(
        TWO_STEPS, {"One": one, "Two": lambda payload: 2}, store, owner="alive", replayable={"One"}
    )
    result = second.resume(checkpoint, wait=True)
    assert result is not None and result.status == "SUCCEEDED"
    assert result.output == {"x": 1, "one": 1, "two": 2}
    assert calls == {"One": 2, "Two": 1}


def test_starting_the_same_execution_twice_runs_it_once(store):
    count = {"n": 0}

    def one(payload):
        count["n"] += 1
        return 1

    executor = LocalExecutor(TWO_STEPS, {"One": one, "Two": lambda p: 2}, store, owner="a")
    assert executor.start("run-1", {}, wait=True).status == "SUCCEEDED"
    assert executor.start("run-1", {}, wait=True) is None
    assert count["n"] == 1


CHILD = """
import json, sys, threading
from pathlib import Path
from podium.engine.executor import LocalExecutor
from podium.store.sqlite import SqliteStore

definition, db, out = json.loads(sys.argv[1]), sys.argv[2], Path(sys.argv[3])

def ask(payload):
    out.write_text(payload["token"])
    return {}

executor = LocalExecutor(definition, {"Ask": ask}, SqliteStore(db), owner="child")
executor.start("run-3", {"q": 1})
threading.Event().wait()
"""


def _wait_invoked(store, run_id: str) -> bool:
    frame = store.get_checkpoint(run_id).state.get("frame", {})
    return bool((frame.get("wait") or {}).get("invoked"))


def test_a_killed_process_leaves_a_token_wait_that_another_resumes(store, tmp_path):
    token_file = tmp_path / "token"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, json.dumps(WAIT), str(store.path), str(token_file)]
    )
    try:
        deadline = time.monotonic() + 20
        while not token_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert token_file.exists(), "the child never reached the wait"
        token = token_file.read_text()
        while not _wait_invoked(store, "run-3") and time.monotonic() < deadline:
            time.sleep(0.02)  # the child records that the wait task was invoked
        assert _wait_invoked(store, "run-3"), "the child never recorded the invocation"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(10)

    invoked = []
    second = LocalExecutor(WAIT, {"Ask": lambda p: invoked.append(p) or {}}, store, owner="new")
    with pytest.raises(NotFoundError):
        second.send_task_success("run-3.not-a-real-token", {"approved": True})
    second.send_task_success(token, {"approved": True})  # written into the stored document
    checkpoint = store.get_checkpoint("run-3")
    assert checkpoint.owner == "child" and not checkpoint.terminal
    result = second.resume(checkpoint, wait=True)
    assert result is not None and result.status == "SUCCEEDED"
    assert result.output == {"q": 1, "answer": {"approved": True}}
    assert invoked == []  # the wait task is not invoked again: its token was kept


def test_stop_aborts_a_waiting_run_and_reports_it(store):
    asked = threading.Event()
    finished = []
    executor = LocalExecutor(
        WAIT,
        {"Ask": lambda payload: asked.set() or {}},
        store,
        owner="a",
        on_finish=lambda name, payload, result: finished.append((name, result)),
    )
    executor.start("run-4", {})
    assert asked.wait(5)
    assert executor.stop("run-4", cause="user cancelled")
    executor.wait("run-4", 5)
    assert finished[0][0] == "run-4"
    assert finished[0][1].status == "ABORTED"
    assert store.get_checkpoint("run-4").state["status"] == "ABORTED"
    assert not executor.stop("run-4")


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        (
            {"StartAt": "P", "States": {"P": {"Type": "Parallel", "Branches": [], "End": True}}},
            "type 'Parallel' is not supported",
        ),
        (
            {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}},
            "type 'Wait' is not supported",
        ),
        (
            {
                "StartAt": "T",
                "States": {
                    "T": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::sqs:sendMessage",
                        "End": True,
                    }
                },
            },
            "resource 'arn:aws:states:::sqs:sendMessage' is not supported",
        ),
        (
            {
                "QueryLanguage": "JSONata",
                "StartAt": "T",
                "States": {"T": {"Type": "Pass", "Output": {}, "End": True}},
            },
            "'Output'",
        ),
        (
            {"StartAt": "T", "States": {"T": {"Type": "Pass", "Next": "Nowhere"}}},
            "unknown state 'Nowhere'",
        ),
        (
            {
                "StartAt": "M",
                "States": {
                    "M": {
                        "Type": "Map",
                        "ItemProcessor": {
                            "ProcessorConfig": {"Mode": "DISTRIBUTED"},
                            "StartAt": "X",
                            "States": {"X": {"Type": "Succeed"}},
                        },
                        "End": True,
                    }
                },
            },
            "only INLINE Map",
        ),
    ],
)
def test_definitions_outside_the_subset_are_refused(store, definition, message):
    with pytest.raises(AslError, match=message):
        LocalExecutor(definition, {}, store, owner="a")


def test_intrinsic_functions_are_refused(store):
    definition = {
        "StartAt": "P",
        "States": {
            "P": {"Type": "Pass", "Parameters": {"x.$": "States.Format('{}', $.a)"}, "End": True}
        },
    }
    with pytest.raises(AslError, match="intrinsic function"):
        LocalExecutor(definition, {}, store, owner="a")


def test_missing_handler_is_refused(store):
    with pytest.raises(AslError, match=r"no handler for \['Two'\]"):
        LocalExecutor(TWO_STEPS, {"One": lambda p: 1}, store, owner="a")
