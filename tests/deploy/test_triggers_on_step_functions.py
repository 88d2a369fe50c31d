"""The deployed path end to end under moto: an SQS message starts a run that the checked-in
machine carries to its answer on Step Functions, DynamoDB and S3, and the finished run reaches
a downstream consumer through EventBridge — once, though the message is delivered twice."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3

from podium.engine import triggers
from podium.engine.agents import AgentRegistry
from podium.engine.runs import RunService
from podium.engine.runtime import Runtime, set_runtime
from podium.engine.stepfunctions import StepFunctionsOrchestrator
from podium.store.blobs import S3BlobStore
from podium.store.dynamodb import DynamoStore, create_table
from support.moto_sfn import moto_state_machine, podium_handlers
from support.serialized import SerializedClient

ROOT = Path(__file__).parents[2]


def test_an_sqs_message_runs_to_its_answer_and_is_announced(aws_env, monkeypatch, event):
    monkeypatch.setenv("PODIUM_DEMO_TOKEN_DELAY_MS", "0")
    monkeypatch.setenv("PODIUM_EVENT_BUS", "default")
    with moto_state_machine(podium_handlers()) as machine:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        events = boto3.client("events", region_name="us-east-1")
        create_table(ddb, "podium")
        s3.create_bucket(Bucket="blobs")
        url = sqs.create_queue(QueueName="downstream")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        events.put_rule(Name="finished", EventPattern=json.dumps(
            {"source": ["podium"], "detail-type": ["Podium Run Finished"]}))  # fmt: skip
        events.put_targets(Rule="finished", Targets=[
            {"Id": "q", "Arn": queue_arn["Attributes"]["QueueArn"]}])  # fmt: skip
        triggers.set_events_client(events)
        store = DynamoStore(
            "podium", SerializedClient(ddb), blobs=S3BlobStore("blobs", SerializedClient(s3))
        )
        runtime = Runtime(
            store=store,
            agents=AgentRegistry(store, ROOT / "agents"),
            orchestrator=StepFunctionsOrchestrator(machine.arn, machine.client),
            event_batch_ms=100,
        )
        set_runtime(runtime)
        processor = triggers.TriggerProcessor(RunService(runtime), triggers.TriggerKeys(store))
        record = event("sqs_batch")["Records"][0]
        try:
            assert processor.handle({"Records": [record]}) == {"batchItemFailures": []}
            assert processor.handle({"Records": [record]}) == {"batchItemFailures": []}
            _wait_for_executions_to_end(machine)  # each announces as its run closes
            announced = _drain(sqs, url)
        finally:
            set_runtime(None)
            triggers.reset()
        executions = machine.client.list_executions(stateMachineArn=machine.arn)["executions"]
        assert len(executions) == 1  # delivered twice, started once
        [detail] = [message["detail"] for message in announced]
        assert detail["status"] == "succeeded"
        assert detail["agent"] == "weather" and detail["tenant"] == "acme"
        assert "Paris" in detail["output"]["text"]
        run = store.get_run("acme", detail["session_id"], detail["run_id"])
        assert run.status == "succeeded"
        assert executions[0]["name"] == run.run_id


def _wait_for_executions_to_end(machine: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        executions = machine.client.list_executions(stateMachineArn=machine.arn)["executions"]
        if executions and all(e["status"] != "RUNNING" for e in executions):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"executions still running: {executions}")
        time.sleep(0.1)


def _drain(sqs: Any, url: str) -> list[dict[str, Any]]:
    """Every message in the queue (all were sent before the executions ended)."""
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        found += [json.loads(message["Body"]) for message in messages]
    return found
