"""`Orchestrator` over AWS Step Functions: StartExecution named by the run id (a repeated start
is a no-op), SendTaskSuccess/Failure for approvals and client tools, StopExecution to cancel."""

from __future__ import annotations

import json
import threading
from typing import Any

from podium.errors import NotFoundError


class StepFunctionsOrchestrator:
    def __init__(self, state_machine_arn: str, client: Any = None) -> None:
        self._client = client
        self._lock = threading.Lock()
        self.state_machine_arn = state_machine_arn

    @property
    def client(self) -> Any:
        """The Step Functions client, made on first use: most API requests (and a cold start)
        never call Step Functions."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3  # noqa: PLC0415 - only the AWS path needs it

                    self._client = boto3.client("stepfunctions")
        return self._client

    def execution_arn(self, name: str) -> str:
        base = self.state_machine_arn.replace(":stateMachine:", ":execution:", 1)
        return f"{base}:{name}"

    def reference(self, name: str) -> str:
        return self.execution_arn(name)

    def start(self, name: str, payload: dict[str, Any]) -> str:
        try:
            response = self.client.start_execution(
                stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload)
            )
        except self.client.exceptions.ExecutionAlreadyExists:
            return self.execution_arn(name)
        return str(response["executionArn"])

    def stop(self, name: str, *, cause: str) -> None:
        try:
            self.client.stop_execution(
                executionArn=self.execution_arn(name),
                error="Podium.Cancelled",
                cause=cause[:32_000],
            )
        except self.client.exceptions.ExecutionDoesNotExist as exc:
            raise NotFoundError(f"execution {name} does not exist") from exc

    def send_task_success(self, token: str, output: Any) -> None:
        self.client.send_task_success(taskToken=token, output=json.dumps(output))

    def send_task_failure(self, token: str, error: str, cause: str) -> None:
        self.client.send_task_failure(taskToken=token, error=error, cause=cause[:32_000])
