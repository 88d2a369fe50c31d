"""The deployed stack, played under moto end to end:

- an API Gateway HTTP API (v2) event into the API function (FastAPI behind Mangum) creates a
  session and starts a run;
- the checked-in state machine executes under moto's Step Functions interpreter, its Lambda
  tasks dispatched to the real handlers; state lands in DynamoDB, and a large input in S3;
- a REST API (v1) event into the stream function's path replays the run's events;
- an SQS batch (one good message, one malformed, one duplicate) starts exactly one run and
  reports the malformed one as a batch item failure.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import boto3
from mangum import Mangum

from podium.api.app import create_app
from podium.api.auth import create_key
from podium.api.context import ApiSettings
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
WEATHER = "What's the weather and time in Paris?"


def http_api_v2(method: str, path: str, key: str, body: Any = None) -> dict[str, Any]:
    raw = json.dumps(body).encode() if body is not None else b""
    return {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": {"authorization": f"Bearer {key}", "content-type": "application/json",
                    "host": "abc.execute-api.us-east-1.amazonaws.com"},
        "isBase64Encoded": True, "body": base64.b64encode(raw).decode(),
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc",
            "domainName": "abc.execute-api.us-east-1.amazonaws.com", "domainPrefix": "abc",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "curl/8"},
            "requestId": "req-1", "routeKey": "$default", "stage": "$default",
            "time": "29/Nov/2026:00:00:00 +0000", "timeEpoch": 1795939200000,
        },
    }  # fmt: skip


def rest_api_v1(path: str, key: str) -> dict[str, Any]:
    return {
        "resource": "/{proxy+}", "path": path, "httpMethod": "GET",
        "headers": {"Authorization": f"Bearer {key}", "Accept": "text/event-stream",
                    "Host": "def.execute-api.us-east-1.amazonaws.com"},
        "multiValueHeaders": {"Authorization": [f"Bearer {key}"],
                              "Accept": ["text/event-stream"]},
        "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")}, "stageVariables": None,
        "requestContext": {
            "resourceId": "r", "resourcePath": "/{proxy+}", "httpMethod": "GET",
            "path": f"/prod{path}", "accountId": "123456789012", "stage": "prod",
            "requestId": "req-2", "identity": {"sourceIp": "203.0.113.7"},
            "domainName": "def.execute-api.us-east-1.amazonaws.com", "apiId": "def",
        },
        "body": None, "isBase64Encoded": False,
    }  # fmt: skip


def answer(handler: Any, event: dict[str, Any]) -> tuple[int, Any]:
    response = handler(event, None)
    body = response.get("body") or ""
    if response.get("isBase64Encoded"):
        body = base64.b64decode(body).decode()
    try:
        return response["statusCode"], json.loads(body)
    except json.JSONDecodeError:
        return response["statusCode"], body


def test_the_deployed_stack_end_to_end(aws_env, monkeypatch, event):
    monkeypatch.setenv("PODIUM_DEMO_TOKEN_DELAY_MS", "0")
    with moto_state_machine(podium_handlers()) as machine:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        create_table(ddb, "podium")
        s3.create_bucket(Bucket="podium-blobs")
        store = DynamoStore(
            "podium",
            SerializedClient(ddb),
            blob_threshold=10_000,
            blobs=S3BlobStore("podium-blobs", SerializedClient(s3)),
        )
        runtime = Runtime(store=store, agents=AgentRegistry(store, ROOT / "agents"),
                          orchestrator=StepFunctionsOrchestrator(machine.arn, machine.client),
                          event_batch_ms=100)  # fmt: skip
        set_runtime(runtime)
        try:
            key, _ = create_key(store, "acme")
            api = Mangum(create_app(runtime, ApiSettings()), lifespan="off")
            stream = Mangum(create_app(runtime, ApiSettings(bounded_wait_s=2)), lifespan="off")

            # the API function: a session, then a run with an input too large for an item
            status, session = answer(
                api, http_api_v2("POST", "/sessions", key, {"agent": "weather"})
            )
            assert status == 201
            long_input = WEATHER + " " + "Tell me everything. " * 1000
            status, accepted = answer(
                api,
                http_api_v2(
                    "POST", f"/sessions/{session['session_id']}/runs", key, {"input": long_input}
                ),
            )
            assert status == 202, accepted
            run_id = accepted["run_id"]
            run = _wait(store, session["session_id"], run_id)
            assert run.status == "succeeded", run.error
            assert "Paris" in run.output["text"]

            # state in DynamoDB, the large input in S3 (and read back whole)
            items = ddb.scan(TableName="podium")["Items"]
            assert any(i["sk"]["S"].startswith("RUN#") for i in items)
            assert any(i["sk"]["S"].startswith("MSG#") for i in items)
            assert any(i["sk"]["S"].startswith("EVT#") for i in items)
            assert any(i["sk"]["S"].startswith("SPAN#") for i in items)
            blobs = s3.list_objects_v2(Bucket="podium-blobs")
            assert any(f"/s/{session['session_id']}/" in o["Key"] for o in blobs["Contents"])
            first = store.list_messages("acme", session["session_id"], limit=1).items[0]
            assert first.content == long_input

            # the stream function's path: the run's events, replayed
            status, body = answer(
                stream, rest_api_v1(f"/sessions/{session['session_id']}/runs/{run_id}/events", key)
            )
            assert status == 200
            parts = [json.loads(line[6:]) for line in body.splitlines()
                     if line.startswith("data: ") and line != "data: [DONE]"]  # fmt: skip
            assert parts[0]["type"] == "start" and parts[-1]["type"] == "finish"
            assert body.rstrip().endswith("data: [DONE]")

            # the trigger function: good, malformed, duplicate
            good = event("sqs_batch")["Records"][0]
            malformed = {**good, "messageId": "bad-1", "body": "{not json"}
            duplicate = dict(good)
            before = len(machine.client.list_executions(stateMachineArn=machine.arn)["executions"])
            processor = triggers.TriggerProcessor(RunService(runtime), triggers.TriggerKeys(store))
            result = processor.handle({"Records": [good, malformed, duplicate]})
            assert result == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
            executions = machine.client.list_executions(stateMachineArn=machine.arn)["executions"]
            assert len(executions) == before + 1
        finally:
            set_runtime(None)
            triggers.reset()


def _wait(store: DynamoStore, session: str, run_id: str, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.get_run("acme", session, run_id)
        if run.terminal:
            events = store.list_events("acme", session, run_id=run_id, limit=1000)
            if events and events[-1].type == "finish":
                return run
        time.sleep(0.1)
    raise TimeoutError(run.status)
