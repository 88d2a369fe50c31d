"""Invoking `lambda` tools: the tool runner calls your function with Podium's tool contract.

A function's failure keeps its own error name (`errorType`), and a failure of the Lambda
service itself is named as Step Functions names it (`Lambda.TooManyRequestsException`…), so
a tool's `retry.errors` and the machine's service retry match either as written.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from podium.protocol.failures import named_tool_error


class LambdaTools:
    """`invoke(function, event)`: a synchronous Lambda invocation, answered with the
    function's JSON result."""

    def __init__(self, client: Any = None) -> None:
        self._client = client
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    import boto3  # noqa: PLC0415 - only the AWS tool runner needs it

                    self._client = boto3.client("lambda")
        return self._client

    def invoke(self, function: str, event: dict[str, Any]) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            response = self.client.invoke(FunctionName=function, Payload=json.dumps(event).encode())
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code") or "ServiceException")
            raise named_tool_error(f"Lambda.{code}")(str(exc)) from None
        except BotoCoreError as exc:
            raise named_tool_error("Lambda.SdkClientException")(str(exc)) from None
        body = response["Payload"].read()
        try:
            answer = json.loads(body) if body else None
        except json.JSONDecodeError:
            answer = body.decode(errors="replace")
        if response.get("FunctionError"):
            error = answer if isinstance(answer, dict) else {}
            name = str(error.get("errorType") or "Lambda.Unknown")
            raise named_tool_error(name)(str(error.get("errorMessage") or answer or ""))
        return answer
