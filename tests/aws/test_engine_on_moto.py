"""The AWS code path: the run machine of the repository's agents executing under moto's Step
Functions, its Lambda tasks dispatched to Podium's real handlers, state in DynamoDB and S3,
runs started, approved and cancelled through the Step Functions orchestrator."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.engine import handlers
from podium.engine.runs import RunService
from podium.store.dynamodb import DynamoStore
from support.aws_env import aws_podium
from support.podium_env import TENANT, wait_for_run

ROOT = Path(__file__).parents[2]


@pytest.fixture
def aws(monkeypatch) -> Iterator[tuple[RunService, DynamoStore, Any]]:
    with aws_podium(ROOT / "agents", monkeypatch) as podium:
        yield podium.service, podium.store, podium.machine


def wait(store: DynamoStore, session: str, run_id: str, timeout: float = 60) -> Any:
    return wait_for_run(store, session, run_id, timeout)


def test_weather_run_on_step_functions_and_dynamodb(aws):
    service, store, machine = aws
    session = service.create_session(TENANT, "weather").session_id
    started = service.start_run(TENANT, session, "What's the weather and time in Paris?")
    assert started.run.execution_ref.endswith(f":{started.run.run_id}")
    run = wait(store, session, started.run.run_id)
    assert run.status == "succeeded", run.error
    assert "Paris" in run.output["text"]
    messages = store.list_messages(TENANT, session, limit=50).items
    assert [m.role for m in messages] == ["user", "assistant", "tool", "tool", "assistant"]
    names = [name for name, _ in machine.calls]
    assert names.count("ToolRunnerArn") == 2 and names.count("ModelStepArn") == 2
    events = store.list_events(TENANT, session, run_id=run.run_id, limit=1000)
    assert events[0].type == "start" and events[-1].type == "finish"
    ids = [e.event_id for e in events]
    assert ids == sorted(ids)
    described = machine.client.describe_execution(executionArn=run.execution_ref)
    assert described["status"] == "SUCCEEDED"
    assert len(described["output"]) < 8_000  # the state carries ids, never outputs
    assert (
        store.get_session(TENANT, session).lease is None
        or store.get_session(TENANT, session).lease_holder(time.time()) is None
    )


def test_approval_through_send_task_success(aws):
    service, store, _ = aws
    session = service.create_session(TENANT, "support", variables={"company": "Acme"}).session_id
    run_id = service.start_run(
        TENANT, session, "Please refund 19.99 on order AB-1234, it arrived damaged"
    ).run.run_id
    deadline = time.monotonic() + 30
    while True:
        run = store.get_run(TENANT, session, run_id)
        if run.pending_approvals and run.status == "waiting":
            break
        assert not run.terminal and time.monotonic() < deadline, run.status
        time.sleep(0.1)
    [call_id] = list(run.pending_approvals)
    assert run.status == "waiting"
    service.decide(TENANT, session, run_id, call_id, approved=True)
    run = wait(store, session, run_id)
    assert run.status == "succeeded", run.error
    results = [m for m in store.list_messages(TENANT, session, limit=50).items if m.role == "tool"]
    refund = next(m for m in results if m.tool_call_id == call_id)
    assert json.loads(refund.content)["refunded_usd"] == 19.99


def test_cancel_is_reconciled_from_the_status_change_event(aws):
    service, store, machine = aws
    session = service.create_session(TENANT, "support", variables={"company": "Acme"}).session_id
    run_id = service.start_run(
        TENANT, session, "Please refund 19.99 on order AB-1234, it arrived damaged"
    ).run.run_id
    deadline = time.monotonic() + 30
    while not store.get_run(TENANT, session, run_id).pending_approvals:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    run = service.cancel(TENANT, session, run_id)  # StopExecution
    # moto 5.2.5 fails internally when stopping an execution parked on a task token (its
    # status stays RUNNING), so the EventBridge status-change event AWS would send is played
    # here by hand, as the reconciler function receives it.
    described = machine.client.describe_execution(executionArn=run.execution_ref)
    handlers.reconcile(
        {
            "detail": {
                "status": "ABORTED",
                "input": described["input"],
                "executionArn": run.execution_ref,
            }
        }
    )
    run = store.get_run(TENANT, session, run_id)
    assert run.status == "cancelled"
    assert store.get_session(TENANT, session).lease_holder(time.time()) is None
    tool_results = [
        m for m in store.list_messages(TENANT, session, limit=50).items if m.role == "tool"
    ]
    assert len(tool_results) == 2  # the pending call got a result: the conversation is valid
