"""Run one ASL definition under Podium's local executor and under moto's interpreter, with the
same in-process handlers, and return both outcomes for comparison.

Handlers are called with the task's payload; the calls each side makes are recorded per
"lane" (a Map iteration, told apart by the `lane` field of its payload, or `main`), because
moto runs Map iterations on threads: the global order differs, the order within a lane not.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from podium.engine.executor import LocalExecutor
from podium.store.sqlite import SqliteStore
from support.moto_sfn import AWS_HISTORY_LIMIT, moto_state_machine

HandlerFactory = Callable[["Side"], dict[str, Callable[[dict[str, Any]], Any]]]
_named: dict[str, type[Exception]] = {}


def named_error(name: str) -> type[Exception]:
    """An exception class called `name`: the only way a Lambda handler names its error (the
    runtime reports the class's `__name__`)."""
    if name not in _named:
        _named[name] = type(name, (Exception,), {})
    return _named[name]


@dataclass
class Side:
    """What one executor did: its calls per lane, and how to answer a task token."""

    name: str
    calls: dict[str, list[tuple[str, dict[str, Any]]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    send_success: Callable[[str, Any], None] = lambda token, output: None
    send_failure: Callable[[str, str, str], None] = lambda token, error, cause: None
    send_heartbeat: Callable[[str], None] = lambda token: None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, function: str, payload: dict[str, Any]) -> None:
        lane = str(payload.get("lane", "main"))
        with self.lock:
            self.calls[lane].append((function, payload))

    def later(self, action: Callable[[], None], delay: float = 0.3) -> None:
        """Answer a token after the handler that got it has returned."""

        def run() -> None:
            time.sleep(delay)
            action()

        threading.Thread(target=run, daemon=True).start()


@dataclass
class Outcome:
    status: str
    output: Any
    error: str | None
    cause: str | None
    calls: dict[str, list[tuple[str, dict[str, Any]]]]
    history: int = 0
    """Events in the execution's history (moto's get_execution_history; the local
    executor's count)."""


def _recording(side: Side, handlers: dict[str, Callable[[dict[str, Any]], Any]]):
    def wrap(name: str, fn: Callable[[dict[str, Any]], Any]):
        def call(payload: dict[str, Any]) -> Any:
            side.record(name, payload)
            return fn(payload)

        return call

    return {name: wrap(name, fn) for name, fn in handlers.items()}


def run_local(
    definition: dict[str, Any],
    factory: HandlerFactory,
    payload: dict[str, Any],
    tmp: Path,
    *,
    timeout: float = 30,
    history_limit: int = AWS_HISTORY_LIMIT,
) -> Outcome:
    side = Side("local")
    store = SqliteStore(tmp / "local.db")
    executor = LocalExecutor(
        definition,
        _recording(side, factory(side)),
        store,
        owner="test",
        sleep_scale=1.0,
        history_limit=history_limit,
    )
    side.send_success = executor.send_task_success
    side.send_failure = executor.send_task_failure
    side.send_heartbeat = executor.send_task_heartbeat
    executor.start("exec-1", payload)
    executor.wait("exec-1", timeout)
    doc = store.get_checkpoint("exec-1").state
    store.close()
    return Outcome(
        doc["status"],
        doc.get("output"),
        doc.get("error"),
        doc.get("cause"),
        dict(side.calls),
        doc.get("history", 0),
    )


def run_moto(
    definition: dict[str, Any],
    factory: HandlerFactory,
    payload: dict[str, Any],
    *,
    timeout: float = 30,
    history_limit: int = AWS_HISTORY_LIMIT,
) -> Outcome:
    side = Side("moto")
    handlers = factory(side)
    functions = sorted(handlers)
    with moto_state_machine(
        _recording(side, handlers), json.dumps(definition), functions, history_limit=history_limit
    ) as m:
        side.send_success = lambda token, output: m.client.send_task_success(
            taskToken=token, output=json.dumps(output)
        )
        side.send_failure = lambda token, error, cause: m.client.send_task_failure(
            taskToken=token, error=error, cause=cause
        )
        side.send_heartbeat = lambda token: m.client.send_task_heartbeat(taskToken=token)
        done = m.run("exec-1", payload, timeout_s=timeout)
        history = len(m.history(done["executionArn"]))
    output = json.loads(done["output"]) if done.get("output") else None
    return Outcome(
        done["status"], output, done.get("error"), done.get("cause"), dict(side.calls), history
    )


def run_both(
    definition: dict[str, Any],
    factory: HandlerFactory,
    payload: dict[str, Any],
    tmp: Path,
    *,
    history_limit: int = AWS_HISTORY_LIMIT,
) -> tuple[Outcome, Outcome]:
    return (
        run_local(definition, factory, payload, tmp, history_limit=history_limit),
        run_moto(definition, factory, payload, history_limit=history_limit),
    )


LAMBDA_ERROR_KEYS = {"errorMessage", "errorType", "requestId", "stackTrace"}


def comparable(value: Any) -> Any:
    """`value` with every Lambda error body (a task failure's Cause) reduced to what both
    executors must agree on: its keys, error type and message (request ids and stack frames
    differ by nature)."""
    if isinstance(value, dict):
        return {key: comparable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [comparable(item) for item in value]
    if isinstance(value, str) and value.startswith("{"):
        try:
            body = json.loads(value)
        except json.JSONDecodeError:
            return value
        if isinstance(body, dict) and set(body) == LAMBDA_ERROR_KEYS:
            return {"lambda_error": (body["errorType"], body["errorMessage"])}
    return value


def strip_tokens(calls: dict[str, list[tuple[str, dict[str, Any]]]]) -> dict[str, list[Any]]:
    """Task tokens differ between executors by nature; compare everything else."""
    return {
        lane: [(fn, comparable({k: v for k, v in p.items() if k != "token"})) for fn, p in entries]
        for lane, entries in calls.items()
    }
