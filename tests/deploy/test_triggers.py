"""Event triggers under moto: SQS messages, EventBridge events and schedule inputs start runs,
once per message key however often they are delivered, and a finished run is published."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from podium.engine import triggers
from podium.engine.agents import AgentRegistry
from podium.engine.context import RunIds
from podium.engine.runs import RunService
from podium.engine.runtime import Runtime, set_runtime
from podium.errors import InputError
from podium.store.blobs import S3BlobStore
from podium.store.dynamodb import DynamoStore, create_table
from podium.store.idempotency import key_digest
from podium.store.models import IdempotencyRecord
from support.serialized import SerializedClient

ROOT = Path(__file__).parents[2]
TABLE, BUCKET = "podium", "podium-blobs"


class RecordingOrchestrator:
    """Step Functions as the trigger sees it: StartExecution, recorded."""

    def __init__(self, fail: int = 0) -> None:
        self.started: list[str] = []
        self.fail = fail

    def start(self, name: str, payload: dict[str, Any]) -> str:
        if self.fail:
            self.fail -= 1
            raise RuntimeError("ServiceUnavailable: StartExecution failed")
        self.started.append(name)
        return self.reference(name)

    def reference(self, name: str) -> str:
        return f"arn:aws:states:us-east-1:123456789012:execution:podium-run:{name}"

    def stop(self, name: str, *, cause: str) -> None: ...

    def send_task_success(self, token: str, output: Any) -> None: ...

    def send_task_failure(self, token: str, error: str, cause: str) -> None: ...


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stack(mocked_aws, monkeypatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("PODIUM_TRIGGER_AGENT", "weather")
    monkeypatch.setenv("PODIUM_TRIGGER_TENANT", "acme")
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    s3 = boto3.client("s3", region_name="us-east-1")
    create_table(ddb, TABLE)
    s3.create_bucket(Bucket=BUCKET)
    store = DynamoStore(
        TABLE, SerializedClient(ddb), blobs=S3BlobStore(BUCKET, SerializedClient(s3))
    )
    orchestrator = RecordingOrchestrator()
    runtime = Runtime(store=store, agents=AgentRegistry(store, ROOT / "agents"),
                      orchestrator=orchestrator)  # fmt: skip
    clock = Clock()
    keys = triggers.TriggerKeys(store, clock=clock)
    processor = triggers.TriggerProcessor(RunService(runtime), keys)
    yield {"processor": processor, "orchestrator": orchestrator, "store": store, "keys": keys,
           "clock": clock, "ddb": ddb, "runtime": runtime}  # fmt: skip


def key_record(store: DynamoStore, trigger: triggers.Trigger) -> IdempotencyRecord | None:
    """The trigger key's record, as the store keeps it."""
    item = store._get(f"IDEM#trigger:{trigger.tenant}", key_digest(trigger.key))
    return None if item is None else IdempotencyRecord(**json.loads(item["data"]["S"]))


# ----------------------------------------------------------------------------- SQS


def test_a_batch_starts_one_run_per_message(stack, event):
    result = stack["processor"].handle(event("sqs_batch"))
    assert result == {"batchItemFailures": []}
    assert len(stack["orchestrator"].started) == 2
    first, second = (stack["store"].get_run("acme", s, r) for s, r in _runs(stack))
    assert first.input == "What's the weather and time in Paris?"
    assert second.input == "What's the weather in Lisbon?"  # a plain-text body is the input
    assert first.session_id != second.session_id  # each message its own session
    assert {first.agent, second.agent} == {"weather"}


def _runs(stack: dict[str, Any]) -> list[tuple[str, str]]:
    found = []
    for session in stack["store"].list_sessions("acme", limit=50).items:
        found += [(session.session_id, r.run_id)
                  for r in stack["store"].list_runs("acme", session.session_id).items]  # fmt: skip
    return sorted(found, key=lambda pair: pair[1])


def test_a_redelivered_message_never_starts_a_second_run(stack, event):
    batch = event("sqs_batch")
    stack["processor"].handle(batch)
    for record in batch["Records"]:
        record["attributes"]["ApproximateReceiveCount"] = "2"
    again = stack["processor"].handle(batch)
    assert again == {"batchItemFailures": []}  # acknowledged, so SQS deletes them
    assert len(stack["orchestrator"].started) == 2
    assert len(_runs(stack)) == 2


def test_the_idempotency_key_attribute_dedupes_distinct_messages(stack, event):
    batch = event("sqs_batch")
    second = batch["Records"][1]
    copy = json.loads(json.dumps(second))
    copy["messageId"] = "a-different-message-with-the-same-key"
    stack["processor"].handle({"Records": [second, copy]})
    assert len(stack["orchestrator"].started) == 1


def test_only_the_failed_messages_are_reported(stack, event):
    batch = event("sqs_batch")
    bad = json.loads(json.dumps(batch["Records"][0]))
    bad["messageId"] = "bad-agent"
    bad["body"] = json.dumps({"agent": "nobody", "input": "hello"})
    empty = json.loads(json.dumps(batch["Records"][0]))
    empty["messageId"] = "no-input"
    empty["body"] = json.dumps({"agent": "weather"})
    result = stack["processor"].handle({"Records": [batch["Records"][0], bad, empty]})
    assert result == {"batchItemFailures": [{"itemIdentifier": "bad-agent"},
                                            {"itemIdentifier": "no-input"}]}  # fmt: skip
    assert len(stack["orchestrator"].started) == 1


def test_on_a_fifo_queue_a_failure_fails_the_rest_of_the_batch(stack, event):
    batch = event("sqs_batch")
    records = [json.loads(json.dumps(batch["Records"][0])) for _ in range(3)]
    for index, record in enumerate(records):
        record["messageId"] = f"m{index}"
        record["eventSourceARN"] = "arn:aws:sqs:us-east-1:123456789012:podium-orders.fifo"
    records[1]["body"] = "{}"  # no input: fails
    result = stack["processor"].handle({"Records": records})
    assert [f["itemIdentifier"] for f in result["batchItemFailures"]] == ["m1", "m2"]
    assert len(stack["orchestrator"].started) == 1


def test_a_key_another_delivery_holds_is_retried_later(stack, event):
    batch = event("sqs_batch")
    record = batch["Records"][0]
    trigger = triggers.Trigger.parse(record["body"], default_key=f"sqs:{record['messageId']}",
                                     source="sqs")  # fmt: skip
    stack["keys"].claim(trigger)  # a concurrent delivery, still working
    result = stack["processor"].handle({"Records": [record]})
    assert result == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    assert stack["orchestrator"].started == []


def test_a_start_that_failed_is_retried_from_scratch(stack, event):
    record = event("sqs_batch")["Records"][0]
    stack["orchestrator"].fail = 1
    first = stack["processor"].handle({"Records": [record]})
    assert first == {"batchItemFailures": [{"itemIdentifier": record["messageId"]}]}
    trigger = triggers.Trigger.parse(record["body"], default_key=f"sqs:{record['messageId']}",
                                     source="sqs")  # fmt: skip
    assert key_record(stack["store"], trigger) is None  # the claim was released
    second = stack["processor"].handle({"Records": [record]})
    assert second == {"batchItemFailures": []}
    assert len(stack["orchestrator"].started) == 1
    record = key_record(stack["store"], trigger)
    assert record is not None and record.status == "completed"
    statuses = sorted(stack["store"].get_run("acme", s, r).status for s, r in _runs(stack))
    assert statuses == ["failed", "queued"]  # the abandoned attempt, and the started run


def test_a_dead_holders_run_is_found_not_started_again(stack, event):
    """The holder started the run, then died before recording it; its claim expires and the
    next delivery finds that run instead of starting another."""
    record = event("sqs_batch")["Records"][0]
    trigger = triggers.Trigger.parse(record["body"], default_key=f"sqs:{record['messageId']}",
                                     source="sqs")  # fmt: skip
    keys, service = stack["keys"], stack["processor"].service
    keys.claim(trigger)
    session = service.create_session("acme", "weather", session_id=trigger.own_session_id)
    service.start_run("acme", session.session_id, trigger.input)  # ... and the holder died
    stack["clock"].now += triggers.IN_PROGRESS_S + 1
    result = stack["processor"].handle({"Records": [record]})
    assert result == {"batchItemFailures": []}
    assert len(stack["orchestrator"].started) == 1
    record = key_record(stack["store"], trigger)
    assert record is not None and record.result["disposition"] == "recovered"
    assert record.attempts == 2


def test_trigger_keys_are_the_stores_idempotency_keys(stack, event):
    """One mechanism with the API's Idempotency-Key: a trigger's key is an idempotency key
    of its tenant's `trigger:` scope, kept past SQS's 14 days."""
    record = event("sqs_batch")["Records"][0]
    stack["processor"].handle({"Records": [record]})
    trigger = triggers.Trigger.parse(record["body"], default_key=f"sqs:{record['messageId']}",
                                     source="sqs")  # fmt: skip
    kept = key_record(stack["store"], trigger)
    assert kept is not None and kept.scope == "trigger:acme"
    assert kept.expires_at - kept.first_claimed_at == triggers.KEEP_S > 14 * 86_400


def test_a_session_of_another_agent_is_refused(stack, event):
    stack["processor"].service.create_session("acme", "support", session_id="ticket-1",
                                              variables={"company": "Acme"})  # fmt: skip
    record = event("sqs_batch")["Records"][0]
    record["body"] = json.dumps({"agent": "weather", "input": "hi", "session_id": "ticket-1"})
    result = stack["processor"].handle({"Records": [record]})
    assert result["batchItemFailures"] == [{"itemIdentifier": record["messageId"]}]


def test_a_named_session_is_created_then_reused(stack, event):
    record = event("sqs_batch")["Records"][0]
    record["body"] = json.dumps({"input": "Weather in Rome?", "session_id": "trip-42"})
    stack["processor"].handle({"Records": [record]})
    other = json.loads(json.dumps(record))
    other["messageId"] = "second-message"
    other["body"] = json.dumps({"input": "And in Milan?", "session_id": "trip-42"})
    stack["processor"].handle({"Records": [other]})
    runs = stack["store"].list_runs("acme", "trip-42").items
    assert len(runs) == 2  # the second one queued behind the first (on_conflict: enqueue)
    assert {run.status for run in runs} == {"queued"}
    assert len(stack["orchestrator"].started) == 1


# ----------------------------------------------------------------------------- EventBridge


def test_an_eventbridge_request_is_keyed_by_its_event_id(stack, event):
    request = event("eventbridge_run_request")
    first = stack["processor"].handle(request)
    assert first["outcome"] == "started"
    again = stack["processor"].handle(request)  # EventBridge retried the delivery
    assert again == {**first, "outcome": "duplicate"}
    assert len(stack["orchestrator"].started) == 1


def test_a_schedule_input_starts_one_run_per_scheduled_time(stack, event):
    first = stack["processor"].handle(event("scheduler_input"))
    assert first["outcome"] == "started"
    assert stack["processor"].handle(event("scheduler_input"))["outcome"] == "duplicate"
    later = event("scheduler_input")
    later["key"] = "schedule:daily-check:2026-11-30T08:00:00Z"
    assert stack["processor"].handle(later)["outcome"] == "started"
    assert len(stack["orchestrator"].started) == 2


def test_a_direct_invocation_needs_a_key(stack):
    with pytest.raises(InputError, match="idempotency key"):
        stack["processor"].handle({"agent": "weather", "input": "hi"})


def test_the_lambda_handler_is_built_from_the_environment(stack, event, monkeypatch):
    import importlib.util

    set_runtime(stack["runtime"])
    spec = importlib.util.spec_from_file_location(
        "sqs_trigger_app", ROOT / "functions" / "sqs_trigger" / "app.py"
    )
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    try:
        assert app.handler(event("sqs_batch"), None) == {"batchItemFailures": []}
        assert len(stack["orchestrator"].started) == 2
    finally:
        triggers.reset()
        set_runtime(None)


# ----------------------------------------------------------------------------- completion


def _completion_queue() -> tuple[Any, str]:
    """An SQS queue subscribed to "Podium Run Finished" on the default bus."""
    sqs = boto3.client("sqs", region_name="us-east-1")
    events = boto3.client("events", region_name="us-east-1")
    url = sqs.create_queue(QueueName="finished")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name="finished",
        EventPattern=json.dumps({"source": [triggers.EVENT_SOURCE],
                                 "detail-type": [triggers.RUN_FINISHED]}),
    )  # fmt: skip
    events.put_targets(Rule="finished", Targets=[{"Id": "queue", "Arn": arn}])
    return sqs, url


def _received(sqs: Any, url: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if messages:
            return [json.loads(m["Body"]) for m in messages]
        time.sleep(0.05)
    return []


def test_a_finished_run_is_published(mocked_aws, monkeypatch):
    from podium.store.models import Run, Usage

    monkeypatch.setenv("PODIUM_EVENT_BUS", "default")
    sqs, url = _completion_queue()
    triggers.set_events_client(boto3.client("events", region_name="us-east-1"))
    run = Run(tenant="acme", session_id="s1", run_id="r1", agent="weather", agent_hash="h",
              status="succeeded", output={"text": "x" * 5000}, created_at=1.0, updated_at=2.0,
              usage=Usage(input_tokens=10, output_tokens=5, requests=2))  # fmt: skip
    try:
        assert triggers.publish_run_finished(RunIds("acme", "s1", "r1", "weather", "h"), run)
    finally:
        triggers.reset()
    [message] = _received(sqs, url)
    assert message["detail-type"] == "Podium Run Finished"
    detail = message["detail"]
    assert detail["run_id"] == "r1" and detail["status"] == "succeeded"
    assert len(detail["output"]["text"]) == triggers.OUTPUT_PREVIEW_CHARS
    assert detail["output"]["truncated"] is True
    assert detail["usage"]["model_calls"] == 2


def test_a_failed_publish_never_fails_the_close(monkeypatch, caplog):
    from podium.store.models import Run

    class Broken:
        def put_events(self, **_: Any) -> Any:
            raise ConnectionError("EventBridge is unreachable")

    triggers.set_events_client(Broken())
    run = Run(tenant="t", session_id="s", run_id="r", agent="a", agent_hash="h", status="failed")
    try:
        ids = RunIds("t", "s", "r", "a", "h")
        assert triggers.publish_run_finished(ids, run, bus="default") is False
    finally:
        triggers.reset()
    assert "could not publish" in caplog.text


def test_nothing_is_published_without_a_bus(monkeypatch):
    from podium.store.models import Run

    monkeypatch.delenv("PODIUM_EVENT_BUS", raising=False)
    run = Run(tenant="t", session_id="s", run_id="r", agent="a", agent_hash="h")
    assert triggers.publish_run_finished(RunIds("t", "s", "r", "a", "h"), run) is False
