"""Run the generated state machine under moto's Step Functions interpreter, with every Lambda
task dispatched in-process to a Python callable.

moto runs no Lambda code without Docker; it calls `LambdaFunction._invoke_lambda(self, event)`
and expects `(payload, errored, logs)`. Patching that one method routes every invocation —
Step Functions tasks included — to the callables given here. moto is pinned exactly
(requirements/lock.txt); `test_moto_hook_signature` fails loudly if an upgrade moves the hook.
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.awslambda.models import LambdaFunction

from podium.engine.asl import StatesError

Handler = Callable[[dict[str, Any]], Any]
ROOT = Path(__file__).parents[2]


# Raise from a handler to fail the task with this error name, as a Lambda would; any other
# exception fails it with its class name, as the Python Lambda runtime reports it.
TaskError = StatesError


@dataclass
class MotoStateMachine:
    client: Any
    arn: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def run(self, name: str, payload: dict[str, Any], timeout_s: float = 30) -> dict[str, Any]:
        execution = self.client.start_execution(
            stateMachineArn=self.arn, name=name, input=json.dumps(payload)
        )["executionArn"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            described = self.client.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise TimeoutError(f"execution {name} still running after {timeout_s}s")


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


@contextmanager
def moto_state_machine(
    handlers: dict[str, Handler],
    definition: str | None = None,
    functions: list[str] | None = None,
) -> Iterator[MotoStateMachine]:
    """A state machine under moto whose `${Name}` functions run `handlers[Name]` in-process."""
    definition = definition or (ROOT / "statemachines" / "run.asl.json").read_text()
    if functions is None:
        listing = json.loads((ROOT / "statemachines" / "run.functions.json").read_text())
        functions = list(listing["functions"])
    calls: list[tuple[str, dict[str, Any]]] = []
    original = LambdaFunction._invoke_lambda

    def invoke(self: LambdaFunction, event: Any = None, *_: Any, **__: Any) -> Any:
        payload = json.loads(event) if isinstance(event, str | bytes) else (event or {})
        calls.append((self.function_name, payload))
        try:
            result = handlers[self.function_name](payload)
        except StatesError as exc:
            return json.dumps({"errorType": exc.error, "errorMessage": exc.cause}), True, ""
        except Exception as exc:
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}), True, ""
        return json.dumps(result), False, ""

    LambdaFunction._invoke_lambda = invoke
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            iam = boto3.client("iam", region_name="us-east-1")
            role = iam.create_role(RoleName="podium-run", AssumeRolePolicyDocument="{}")
            role_arn = role["Role"]["Arn"]
            lam = boto3.client("lambda", region_name="us-east-1")
            text = definition
            for name in functions:
                arn = lam.create_function(
                    FunctionName=name,
                    Runtime="python3.12",
                    Role=role_arn,
                    Handler="app.handler",
                    Code={"ZipFile": _zip()},
                )["FunctionArn"]
                text = text.replace("${" + name + "}", arn)
            sfn = boto3.client("stepfunctions", region_name="us-east-1")
            arn = sfn.create_state_machine(name="podium-run", definition=text, roleArn=role_arn)
            yield MotoStateMachine(client=sfn, arn=arn["stateMachineArn"], calls=calls)
    finally:
        LambdaFunction._invoke_lambda = original


def podium_handlers() -> dict[str, Handler]:
    """Podium's own Lambda handlers by substitution name, called as Lambda calls them."""
    from podium.engine import handlers
    from podium.protocol.compile import PODIUM_FUNCTIONS

    def lambda_style(name: str) -> Handler:
        function = getattr(handlers, PODIUM_FUNCTIONS[name].rsplit(".", 1)[1])
        return lambda payload: function(payload, None)

    return {name: lambda_style(name) for name in PODIUM_FUNCTIONS}
