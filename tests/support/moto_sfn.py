"""Run the generated state machine under moto's Step Functions interpreter, with every Lambda
task dispatched in-process to a Python callable — and nothing kinder than AWS.

moto runs no Lambda code without Docker; it calls `LambdaFunction._invoke_lambda(self, event)`
and expects `(payload, errored, logs)`. Patching that one method routes every invocation —
Step Functions tasks included — to the callables given here. moto is pinned exactly
(requirements/lock.txt); `test_moto_hook_signature` fails loudly if an upgrade moves the hook.

Where moto is kinder than AWS, the harness is not:
- **Error names.** Each invocation goes through the AWS Python runtime's own code
  (`awslambdaric.bootstrap.handle_event_request`, pinned, test-only): a failure reaches Step
  Functions as the runtime serializes it, `errorType` being the exception class's `__name__`.
  A handler cannot choose its error name any other way.
- **What `States.ALL` catches.** moto's `States.ALL` matches every error; AWS's matches
  neither `States.Runtime` nor `States.DataLimitExceeded`, which end the execution, and
  `States.TaskFailed` matches neither those nor `States.Timeout`.
- **Heartbeats.** A task whose HeartbeatSeconds pass without a heartbeat fails with
  `States.HeartbeatTimeout` on AWS; moto reports `States.Timeout`.
- **History.** AWS fails an execution with `States.Runtime` when its history reaches 25,000
  events; moto has no limit. `history_limit` sets one (small in tests).
- **JSON.** A task result that is not strict JSON (NaN, Infinity) is a harness violation:
  moto's parser accepts it, Step Functions does not.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from awslambdaric import bootstrap
from awslambdaric.lambda_runtime_marshaller import LambdaMarshaller
from moto import mock_aws
from moto.awslambda.models import LambdaFunction
from moto.stepfunctions.parser.api import HistoryEventType, TaskTimedOutEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name import error_equals_decl
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import FailureEvent
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task
from moto.stepfunctions.parser.asl.eval.callback.callback import HeartbeatTimeoutError
from moto.stepfunctions.parser.asl.eval.event import event_manager
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

Handler = Callable[[dict[str, Any]], Any]
ROOT = Path(__file__).parents[2]
AWS_HISTORY_LIMIT = 25_000
HISTORY_LIMIT_CAUSE = "The execution reached the maximum number of history events ({limit})."
TERMINAL_EVENTS = {"ExecutionFailed", "ExecutionSucceeded", "ExecutionAborted", "ExecutionTimedOut"}


@dataclass
class MotoStateMachine:
    client: Any
    arn: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)

    def run(self, name: str, payload: dict[str, Any], timeout_s: float = 30) -> dict[str, Any]:
        execution = self.client.start_execution(
            stateMachineArn=self.arn, name=name, input=json.dumps(payload)
        )["executionArn"]
        return self.wait(execution, timeout_s)

    def wait(self, execution_arn: str, timeout_s: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            described = self.client.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise TimeoutError(f"execution {execution_arn} still running after {timeout_s}s")

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            extra = {"nextToken": token} if token else {}
            page = self.client.get_execution_history(
                executionArn=execution_arn, maxResults=1000, **extra
            )
            events.extend(page["events"])
            token = page.get("nextToken")
            if not token:
                return events


# ------------------------------------------------------------------ the Lambda runtime


class _RuntimeApi:
    """The Lambda runtime API, as awslambdaric's bootstrap posts an invocation's outcome."""

    def __init__(self) -> None:
        self.marshaller = LambdaMarshaller()
        self.result: Any = None
        self.error: Any = None

    def post_invocation_result(
        self, invoke_id: str, result: Any, content_type: str = "", invocation_id: Any = None
    ) -> None:
        self.result = result

    def post_invocation_error(
        self, invoke_id: str, error: Any, xray_fault: Any = None, invocation_id: Any = None
    ) -> None:
        self.error = error


class _QuietLogSink:
    def log(self, msg: str, frame_type: Any = None) -> None:
        pass

    def log_error(self, message_lines: list[str]) -> None:
        pass


def invoke_through_runtime(
    handler: Handler, event_body: bytes, function_arn: str, timeout_s: float = 900
) -> tuple[str, bool]:
    """Invoke `handler` as the AWS Python runtime does: (response body, errored)."""
    api = _RuntimeApi()
    invoke_id = str(uuid.uuid4())
    bootstrap.handle_event_request(
        api,
        lambda event, context: handler(event),
        invoke_id,
        event_body,
        "application/json",
        None,
        None,
        function_arn,
        int((time.time() + timeout_s) * 1000),
        None,
        _QuietLogSink(),
    )
    if api.error is not None:
        body = api.error
        return (body.decode() if isinstance(body, bytes) else str(body)), True
    body = api.result
    return (body.decode() if isinstance(body, bytes) else str(body)), False


def _strict_json(text: str) -> str | None:
    """None if `text` is strict JSON, else what is wrong with it."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    try:
        json.loads(text, parse_constant=refuse)
    except ValueError as exc:
        return str(exc)
    return None


# ------------------------------------------------------------------ AWS error matching


def _aws_error_equals(self: Any, env: Any) -> None:
    """ErrorEquals as AWS documents it (moto's States.ALL matches everything)."""
    error = env.stack.pop()
    name = getattr(error, "error_name", str(error))
    names = [getattr(n, "error_name", str(n)) for n in self.error_names]
    terminal = name in {"States.Runtime", "States.DataLimitExceeded"}
    matched = name in names
    if "States.ALL" in names and not terminal:
        matched = True
    if "States.TaskFailed" in names and not terminal and name != "States.Timeout":
        matched = True
    env.stack.append(matched)


_moto_task_error = state_task.StateTask._from_error


def _heartbeat_timeout_named(self: Any, env: Any, ex: Exception) -> Any:
    """moto reports a heartbeat's timeout as States.Timeout; AWS as States.HeartbeatTimeout."""
    if isinstance(ex, HeartbeatTimeoutError):
        name = StatesErrorNameType.StatesHeartbeatTimeout
        return FailureEvent(
            env=env,
            error_name=StatesErrorName(typ=name),
            event_type=HistoryEventType.TaskTimedOut,
            event_details=EventDetails(
                taskTimedOutEventDetails=TaskTimedOutEventDetails(error=name.to_name())
            ),
        )
    return _moto_task_error(self, env, ex)


class _HistoryLimit(Exception):  # noqa: N818 - named as AWS says it
    pass


def _limited_add_event(limit: int) -> Callable[..., int]:
    original = event_manager.EventManager.add_event

    def add_event(self: Any, context: Any, event_type: Any, *args: Any, **kwargs: Any) -> int:
        name = getattr(event_type, "value", str(event_type))
        if name not in TERMINAL_EVENTS and len(self._history_event_list) + 1 >= limit:
            raise _HistoryLimit(HISTORY_LIMIT_CAUSE.format(limit=limit))
        return original(self, context, event_type, *args, **kwargs)

    return add_event


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(event, context):\n    return event\n")
    return buffer.getvalue()


_patch_lock = threading.Lock()


@contextmanager
def moto_state_machine(
    handlers: dict[str, Handler],
    definition: str | None = None,
    functions: list[str] | None = None,
    *,
    history_limit: int = AWS_HISTORY_LIMIT,
) -> Iterator[MotoStateMachine]:
    """A state machine under moto whose `${Name}` functions run `handlers[Name]` in-process,
    through the AWS Python runtime's own invocation code."""
    definition = definition or (ROOT / "statemachines" / "run.asl.json").read_text()
    if functions is None:
        listing = json.loads((ROOT / "statemachines" / "run.functions.json").read_text())
        functions = list(listing["functions"])
    calls: list[tuple[str, dict[str, Any]]] = []
    violations: list[str] = []

    def invoke(self: LambdaFunction, event: Any = None, *_: Any, **__: Any) -> Any:
        # moto hands over the request body already parsed from JSON
        payload = json.loads(event) if isinstance(event, str | bytes) else event
        calls.append((self.function_name, payload))
        body = json.dumps(payload).encode()
        text, errored = invoke_through_runtime(
            handlers[self.function_name], body, self.function_arn
        )
        if not errored and (problem := _strict_json(text)) is not None:
            violations.append(f"{self.function_name} returned invalid JSON: {problem}")
        return text, errored, ""

    with _patch_lock:
        saved = (
            LambdaFunction._invoke_lambda,
            error_equals_decl.ErrorEqualsDecl._eval_body,
            event_manager.EventManager.add_event,
            state_task.StateTask._from_error,
        )
        LambdaFunction._invoke_lambda = invoke
        error_equals_decl.ErrorEqualsDecl._eval_body = _aws_error_equals
        event_manager.EventManager.add_event = _limited_add_event(history_limit)
        state_task.StateTask._from_error = _heartbeat_timeout_named
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
            machine = MotoStateMachine(
                client=sfn, arn=arn["stateMachineArn"], calls=calls, violations=violations
            )
            yield machine
    finally:
        with _patch_lock:
            (
                LambdaFunction._invoke_lambda,
                error_equals_decl.ErrorEqualsDecl._eval_body,
                event_manager.EventManager.add_event,
                state_task.StateTask._from_error,
            ) = saved
    assert not violations, violations


def podium_handlers() -> dict[str, Handler]:
    """Podium's own Lambda handlers by substitution name, called as Lambda calls them."""
    from podium.engine import handlers
    from podium.protocol.compile import PODIUM_FUNCTIONS

    def lambda_style(name: str) -> Handler:
        function = getattr(handlers, PODIUM_FUNCTIONS[name].rsplit(".", 1)[1])
        return lambda payload: function(payload, None)

    return {name: lambda_style(name) for name in PODIUM_FUNCTIONS}
