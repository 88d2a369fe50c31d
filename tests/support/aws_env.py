"""Podium's AWS shape under moto: DynamoDB and S3 for the store, the run machine (compiled from
the agents given) executing in moto's Step Functions, each Lambda — Podium's handlers and the
agents' `lambda` tools — invoked through the AWS Python runtime's own code
(`support.moto_sfn`), and the Step Functions orchestrator starting, approving and stopping
executions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from podium.engine.agents import AgentRegistry
from podium.engine.lambda_tools import LambdaTools
from podium.engine.runs import RunService
from podium.engine.runtime import Runtime, set_runtime
from podium.engine.stepfunctions import StepFunctionsOrchestrator
from podium.models.client import RetryPolicy
from podium.protocol.compile import compile_machine, function_map
from podium.protocol.loader import load_agents
from podium.store.blobs import S3BlobStore
from podium.store.dynamodb import DynamoStore, create_table
from podium.store.models import Run
from support.moto_sfn import AWS_HISTORY_LIMIT, Handler, MotoStateMachine, moto_state_machine
from support.podium_env import TENANT, wait_for_run
from support.serialized import SerializedClient

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass
class AwsPodium:
    service: RunService
    store: DynamoStore
    machine: MotoStateMachine
    runtime: Runtime

    def session(self, agent: str, **variables: Any) -> str:
        return self.service.create_session(TENANT, agent, variables=variables).session_id

    def wait(self, session: str, run_id: str, timeout: float = 60) -> Run:
        """The run once it has ended and its final `finish` event is written."""
        return wait_for_run(self.store, session, run_id, timeout)

    def wait_for(self, session: str, run_id: str, predicate: Any, timeout: float = 30) -> Run:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.store.get_run(TENANT, session, run_id)
            if predicate(run):
                return run
            time.sleep(0.05)
        raise TimeoutError(f"run {run_id}: condition not met ({run.status})")

    def messages(self, session: str) -> list[Any]:
        return self.store.list_messages(TENANT, session, limit=500).items

    def calls(self, function: str) -> list[dict[str, Any]]:
        return [payload for name, payload in self.machine.calls if name == function]


@contextmanager
def aws_podium(
    agents_dir: Path,
    monkeypatch: Any,
    *,
    lambda_tools: dict[str, Handler] | None = None,
    history_limit: int = AWS_HISTORY_LIMIT,
    clock: Callable[[], float] = time.time,
) -> Iterator[AwsPodium]:
    """Podium on moto with the machine compiled from `agents_dir`. `lambda_tools` maps a
    `lambda` tool's substitution name (`Tool_<agent>__<tool>`) to its handler."""
    from support.moto_sfn import podium_handlers

    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PODIUM_DEMO_TOKEN_DELAY_MS", "0")
    loaded = load_agents(agents_dir).values()
    definition = compile_machine(loaded)
    functions = list(function_map(loaded)["functions"])
    handlers = podium_handlers() | (lambda_tools or {})
    with moto_state_machine(
        handlers, json.dumps(definition), functions, history_limit=history_limit
    ) as machine:
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        s3 = boto3.client("s3", region_name="us-east-1")
        create_table(ddb, "podium")
        s3.create_bucket(Bucket="podium-blobs")
        store = DynamoStore(
            "podium",
            SerializedClient(ddb),
            blobs=S3BlobStore("podium-blobs", SerializedClient(s3)),
            clock=clock,
        )
        runtime = Runtime(
            store=store,
            agents=AgentRegistry(store, agents_dir),
            orchestrator=StepFunctionsOrchestrator(machine.arn, machine.client),
            event_batch_ms=100,
            model_retry=RetryPolicy(time_scale=0.01),
            cancel_poll_s=0.1,
            lambda_tools=LambdaTools(boto3.client("lambda", region_name="us-east-1")),
            clock=clock,
        )
        set_runtime(runtime)
        try:
            yield AwsPodium(RunService(runtime), store, machine, runtime)
        finally:
            set_runtime(None)
