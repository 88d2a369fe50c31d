"""Podium's local executor: runs the ASL subset `podium build` emits, in-process, durably.

Each run's position — the state each scope is in, its input, retry counts, Map iterations and
task-token waits — is one JSON document written to the store's checkpoint after every state
transition (conditional on its version). A run cut by a crash is resumed from that document by
another runner (see `podium.engine.runner`); a run waiting on a task token (an approval, a
client tool) survives a restart, and a token sent while its run is not loaded is written into
the stored document for the run to find on resume. Like Step Functions, a state that was
running when the process died runs again: handlers are idempotent.

Task resources are `${Name}` substitutions (called with the rendered Parameters; the result
is the handler's return value) or `lambda:invoke[.waitForTaskToken]` with a `${Name}`
FunctionName (the result is wrapped as `{"Payload": ..., "StatusCode": 200}`). A handler's
exception fails the task with the exception's class name as the error and its Lambda error
body as the cause, exactly as the AWS Python runtime reports it (`podium.protocol.failures`).
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from podium.engine import asl
from podium.engine.asl import AslError, Json, StatesError
from podium.engine.workers import Workers
from podium.errors import ConflictError, NotFoundError
from podium.protocol.failures import error_cause, lambda_error_payload

if TYPE_CHECKING:
    from podium.store.models import Checkpoint

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Json]
CHECKPOINT_SCHEMA = 1
TOKEN_POLL_S = 1.0


class CheckpointStore(Protocol):
    def put_checkpoint(
        self, checkpoint: Checkpoint, *, expected_version: int | None
    ) -> Checkpoint: ...
    def get_checkpoint(self, run_id: str) -> Checkpoint: ...


class AbortedError(Exception):
    """The execution was stopped (cancel) while running."""


@dataclass
class ExecutionResult:
    status: str  # SUCCEEDED | FAILED | ABORTED
    output: Json = None
    error: str | None = None
    cause: str | None = None


@dataclass
class _Run:
    """One execution in memory: its document, the lock guarding it, its waiters."""

    name: str
    tenant: str
    session_id: str
    doc: dict[str, Any]
    version: int
    lock: threading.RLock = field(default_factory=threading.RLock)
    wake: threading.Condition = field(init=False)
    aborted: bool = False

    def __post_init__(self) -> None:
        self.wake = threading.Condition(self.lock)


@dataclass
class _Step:
    """The state being run: where it is and what it got."""

    run: _Run
    state: dict[str, Json]
    effective: Json
    frame: dict[str, Any]
    context: dict[str, Any]


FinishHook = Callable[[str, dict[str, Any], ExecutionResult], None]


class LocalExecutor:
    """Runs one state machine definition; many executions at once, each in its own thread."""

    def __init__(
        self,
        definition: dict[str, Json],
        handlers: dict[str, Handler],
        store: CheckpointStore,
        *,
        owner: str,
        sleep_scale: float = 1.0,
        clock: Callable[[], float] = time.time,
        on_finish: FinishHook | None = None,
        replayable: Iterable[str] = (),
    ) -> None:
        """`replayable`: the handlers (by substitution name) that store their own outcome and
        return it when invoked again: the move past them is not checkpointed, since a resumed
        run re-invokes them for their stored answer instead."""
        asl.check_definition(definition)
        missing = sorted(_substitutions(definition) - set(handlers))
        if missing:
            raise AslError(f"no handler for {missing}")
        self.definition = definition
        self.handlers = handlers
        self.store = store
        self.owner = owner
        self.sleep_scale = sleep_scale
        self.clock = clock
        self.on_finish = on_finish
        self.replayable = frozenset(replayable)
        self._runs: dict[str, _Run] = {}
        self._futures: dict[str, Future[ExecutionResult]] = {}
        self._workers = Workers(name="podium-run")
        self._guard = threading.Lock()

    # ------------------------------------------------------------------ public

    def start(
        self, name: str, payload: dict[str, Any], *, wait: bool = False
    ) -> ExecutionResult | None:
        """Start an execution named `name` (idempotent: a name already stored is not restarted)."""
        doc = {
            "schema_version": CHECKPOINT_SCHEMA,
            "name": name,
            "status": "RUNNING",
            "input": payload,
            "started_at": self.clock(),
            "frame": {"state": self.definition["StartAt"], "input": payload},
            "tokens": {},
        }
        from podium.store.models import Checkpoint  # noqa: PLC0415 - keeps import light

        checkpoint = Checkpoint(
            run_id=name,
            tenant=str(payload.get("tenant", "-")),
            session_id=str(payload.get("session_id", "-")),
            owner=self.owner,
            state=doc,
            updated_at=self.clock(),
        )
        try:
            stored = self.store.put_checkpoint(checkpoint, expected_version=None)
        except ConflictError:
            log.info("run_id=%s | execution already exists; not started again", name)
            return None
        run = _Run(name, checkpoint.tenant, checkpoint.session_id, doc, stored.version)
        return self._launch(run, wait=wait)

    def resume(self, checkpoint: Checkpoint, *, wait: bool = False) -> ExecutionResult | None:
        """Continue a stored execution (taken over from a dead runner, or after a restart)."""
        doc = checkpoint.state
        if not isinstance(doc, dict) or doc.get("status") != "RUNNING":
            return None
        taken = checkpoint.model_copy(update={"owner": self.owner, "updated_at": self.clock()})
        stored = self.store.put_checkpoint(taken, expected_version=checkpoint.version)
        run = _Run(checkpoint.run_id, checkpoint.tenant, checkpoint.session_id, doc, stored.version)
        log.info("run_id=%s owner=%s | resuming execution", run.name, self.owner)
        return self._launch(run, wait=wait)

    def wait(self, name: str, timeout: float | None = None) -> None:
        """Until the execution `name` running here ends (or `timeout` passes)."""
        with self._guard:
            future = self._futures.get(name)
        if future is not None:
            with contextlib.suppress(FutureTimeout):
                future.exception(timeout)

    def active_runs(self, tenant: str) -> int:
        """Executions of `tenant` running (or waiting) in this executor."""
        with self._guard:
            return sum(1 for run in self._runs.values() if run.tenant == tenant)

    def is_running(self, name: str) -> bool:
        return name in self._runs

    def stop(self, name: str, *, error: str = "Podium.Cancelled", cause: str = "") -> bool:
        """Abort a running execution (StopExecution). Returns False when it is not running here."""
        run = self._runs.get(name)
        if run is None:
            return False
        with run.lock:
            run.aborted = True
            run.doc["abort"] = {"error": error, "cause": cause}
            run.wake.notify_all()
        return True

    def send_task_success(self, token: str, output: Json) -> None:
        self._deliver(token, {"output": output})

    def send_task_failure(self, token: str, error: str, cause: str = "") -> None:
        self._deliver(token, {"error": error, "cause": cause})

    # ------------------------------------------------------------------ running

    def _launch(self, run: _Run, *, wait: bool) -> ExecutionResult | None:
        with self._guard:
            self._runs[run.name] = run
        if wait:
            return self._execute(run)
        with self._guard:
            self._futures[run.name] = self._workers.submit(self._execute, run)
        return None

    def _execute(self, run: _Run) -> ExecutionResult:
        try:
            output = self._run_scope(run, self.definition, run.doc["frame"], {})
            result = ExecutionResult("SUCCEEDED", output=output)
        except AbortedError:
            abort = run.doc.get("abort", {})
            result = ExecutionResult("ABORTED", error=abort.get("error"), cause=abort.get("cause"))
        except StatesError as exc:
            result = ExecutionResult("FAILED", error=exc.error, cause=exc.cause)
        except Exception as exc:  # a bug here must still end the run, never leave it running
            log.exception("run_id=%s | executor failure", run.name)
            result = ExecutionResult("FAILED", error="States.Runtime", cause=repr(exc))
        with run.lock:
            run.doc.update(
                status=result.status,
                output=result.output,
                error=result.error,
                cause=result.cause,
                finished_at=self.clock(),
            )
            run.doc.pop("frame", None)
            self._save(run, terminal=True)
        with self._guard:
            self._runs.pop(run.name, None)
            self._futures.pop(run.name, None)
        if self.on_finish is not None:
            try:
                self.on_finish(run.name, run.doc["input"], result)
            except Exception:
                log.exception("run_id=%s | on_finish hook failed", run.name)
        return result

    def _run_scope(
        self, run: _Run, scope: dict[str, Json], frame: dict[str, Any], ctx: dict[str, Any]
    ) -> Json:
        """Run states from `frame` until the scope ends; returns the scope's output."""
        while True:
            self._check_abort(run)
            name = frame["state"]
            state = scope["States"][name]
            raw = frame["input"]
            context = self._context(run, name, frame, ctx)
            kind = state["Type"]
            if kind == "Fail":
                raise StatesError(state.get("Error", "States.Fail"), state.get("Cause", ""))
            effective = asl.select(raw, state.get("InputPath", "$"), context)
            if kind == "Succeed":
                return asl.select(effective, state.get("OutputPath", "$"), context)
            if kind == "Choice":
                target = next(
                    (
                        rule["Next"]
                        for rule in state["Choices"]
                        if asl.choice_matches(rule, effective, context)
                    ),
                    state.get("Default"),
                )
                if target is None:
                    raise StatesError("States.NoChoiceMatched", f"no rule of {name!r} matched")
                output = asl.select(effective, state.get("OutputPath", "$"), context)
                self._advance(run, frame, target, output, save=False)  # pure: re-done on resume
                continue
            try:
                if kind == "Pass":
                    result = self._pass_result(state, effective, context)
                else:
                    step = _Step(run, state, effective, frame, context)
                    result = self._with_retry(step, self._task if kind == "Task" else self._map)
            except StatesError as exc:
                catcher = next(
                    (
                        c
                        for c in state.get("Catch", [])
                        if asl.error_matches(c["ErrorEquals"], exc.error)
                    ),
                    None,
                )
                if catcher is None:
                    raise
                output = asl.write_path(raw, catcher.get("ResultPath", "$"), exc.as_output())
                self._advance(run, frame, catcher["Next"], output)
                continue
            if "ResultSelector" in state:
                result = asl.render_template(state["ResultSelector"], result, context)
            combined = asl.write_path(raw, state.get("ResultPath", "$"), result)
            output = asl.select(combined, state.get("OutputPath", "$"), context)
            if state.get("End"):
                with run.lock:
                    frame.update(state="#end", input=output)
                    frame.pop("map", None)
                return output
            self._advance(run, frame, state["Next"], output, save=self._saves_after(state))

    def _saves_after(self, state: dict[str, Json]) -> bool:
        """Whether the move past a completed state is checkpointed: after a Map or a Task,
        unless the Task's handler is replayable (a Pass is pure)."""
        if state["Type"] == "Pass":
            return False
        if state["Type"] != "Task" or state["Resource"] == asl.LAMBDA_INVOKE_WAIT:
            return True
        reference = state["Resource"]
        if reference == asl.LAMBDA_INVOKE:
            reference = str((state.get("Parameters") or {}).get("FunctionName", ""))
        match = asl.SUBSTITUTION.match(reference)
        return match is None or match.group(1) not in self.replayable

    def _pass_result(
        self, state: dict[str, Json], effective: Json, context: dict[str, Any]
    ) -> Json:
        if "Parameters" in state:
            return asl.render_template(state["Parameters"], effective, context)
        return copy.deepcopy(state["Result"]) if "Result" in state else effective

    def _advance(
        self, run: _Run, frame: dict[str, Any], target: str, output: Json, *, save: bool = True
    ) -> None:
        """Move to the next state. After a Task or Map the move is checkpointed (its result
        must survive a crash); after a Choice or Pass it is not — they are pure, and a resumed
        run simply evaluates them again from the last checkpoint — nor after a replayable
        Task (see `replayable`)."""
        with run.lock:
            frame.clear()
            frame.update(state=target, input=output)
            if save:
                self._save(run)

    # ------------------------------------------------------------------ tasks

    def _with_retry(self, step: _Step, attempt: Callable[[_Step], Json]) -> Json:
        """Run `attempt` under the state's Retry rules; the first rule matching an error decides
        (an exhausted rule is not passed over for a later one), as in Step Functions."""
        run, frame, rules = step.run, step.frame, step.state.get("Retry", [])
        while True:
            resume_at = frame.get("retry_at")
            if resume_at is not None:  # a retry was scheduled, maybe before a restart
                self._sleep(run, max(0.0, resume_at - self.clock()))
                with run.lock:
                    frame.pop("retry_at", None)
            try:
                return attempt(step)
            except StatesError as exc:
                index = next(
                    (
                        i
                        for i, rule in enumerate(rules)
                        if asl.error_matches(rule["ErrorEquals"], exc.error)
                    ),
                    None,
                )
                if index is None:
                    raise
                retries = frame.setdefault("retries", {})
                count = retries.get(str(index), 0)
                if count >= rules[index].get("MaxAttempts", 3):
                    raise
                delay = asl.retry_delay(rules[index], count) * self.sleep_scale
                with run.lock:
                    retries[str(index)] = count + 1
                    frame["retry_at"] = self.clock() + delay
                    frame.pop("wait", None)
                    frame.pop("map", None)
                    self._save(run)
                log.info("run_id=%s error=%s retry=%d | retrying", run.name, exc.error, count + 1)

    def _task(self, step: _Step) -> Json:
        state, effective, context = step.state, step.effective, step.context
        resource = state["Resource"]
        if resource == asl.LAMBDA_INVOKE_WAIT:
            return self._wait_for_token(step)
        template = state.get("Parameters")
        params = asl.render_template(template, effective, context) if template else effective
        timeout = state.get("TimeoutSeconds")
        if resource == asl.LAMBDA_INVOKE:
            handler = self._handler(params.get("FunctionName", ""))
            payload = self._call(handler, params.get("Payload", {}), timeout)
            return {"Payload": payload, "StatusCode": 200, "ExecutedVersion": "$LATEST"}
        return self._call(self._handler(resource), params, timeout)

    def _handler(self, reference: str) -> Handler:
        match = asl.SUBSTITUTION.match(reference)
        if match is None or match.group(1) not in self.handlers:
            raise StatesError("States.Runtime", f"no handler for {reference!r}")
        return self.handlers[match.group(1)]

    def _call(self, handler: Handler, payload: Json, timeout: float | None) -> Json:
        payload = json.loads(json.dumps(payload))  # handlers get their own copy, as over the wire
        if timeout is None:
            return _invoke(handler, payload)
        future = self._workers.submit(_invoke, handler, payload)
        try:
            return future.result(timeout)
        except FutureTimeout:
            raise StatesError("States.Timeout", "") from None

    def _wait_for_token(self, step: _Step) -> Json:
        """Invoke the task with a token, then wait (durably) for SendTaskSuccess/Failure."""
        run, state, effective, frame, context = (
            step.run,
            step.state,
            step.effective,
            step.frame,
            step.context,
        )
        wait = frame.get("wait")
        if wait is None:
            timeout = state.get("TimeoutSeconds")
            wait = {
                "token": f"{run.name}.{secrets.token_urlsafe(12)}",
                "deadline": None if timeout is None else self.clock() + timeout,
                "invoked": False,
            }
            with run.lock:
                frame["wait"] = wait
                self._save(run)
        if not wait["invoked"]:
            context = {**context, "Task": {"Token": wait["token"]}}
            params = asl.render_template(state["Parameters"], effective, context)
            self._call(
                self._handler(params.get("FunctionName", "")), params.get("Payload", {}), None
            )
            with run.lock:
                wait["invoked"] = True
                self._save(run)
        with run.lock:
            while True:
                self._check_abort(run)
                answer = run.doc["tokens"].pop(wait["token"], None)
                if answer is not None:
                    frame.pop("wait", None)
                    self._save(run)
                    if "error" in answer:
                        raise StatesError(answer["error"], answer.get("cause", ""))
                    return answer["output"]
                remaining = None if wait["deadline"] is None else wait["deadline"] - self.clock()
                if remaining is not None and remaining <= 0:
                    frame.pop("wait", None)
                    raise StatesError("States.Timeout", "")
                run.wake.wait(TOKEN_POLL_S if remaining is None else min(remaining, TOKEN_POLL_S))
                self._merge_stored_tokens(run)

    def _deliver(self, token: str, answer: dict[str, Any]) -> None:
        name = token.split(".", 1)[0]
        run = self._runs.get(name)
        if run is not None:
            with run.lock:
                if not _token_is_waited(run.doc, token):
                    raise NotFoundError("no task is waiting on this token", token=token[:12])
                run.doc["tokens"][token] = answer
                self._save(run)
                run.wake.notify_all()
            return
        for _ in range(20):  # not running here: write it into the stored document
            checkpoint = self.store.get_checkpoint(name)
            doc = checkpoint.state
            if (
                not isinstance(doc, dict)
                or doc.get("status") != "RUNNING"
                or not _token_is_waited(doc, token)
            ):
                raise NotFoundError("no task is waiting on this token", token=token[:12])
            doc.setdefault("tokens", {})[token] = answer
            try:
                self.store.put_checkpoint(
                    checkpoint.model_copy(update={"state": doc}),
                    expected_version=checkpoint.version,
                )
                return
            except ConflictError:
                continue
        raise ConflictError("could not record the task token answer", token=token[:12])

    def _merge_stored_tokens(self, run: _Run) -> None:
        """Answers written to the stored document by another process (rare; see _deliver)."""
        try:
            stored = self.store.get_checkpoint(run.name)
        except NotFoundError:
            return
        if stored.version != run.version and isinstance(stored.state, dict):
            run.doc["tokens"].update(stored.state.get("tokens", {}))
            run.version = stored.version

    # ------------------------------------------------------------------ map

    def _map(self, step: _Step) -> Json:
        """Run the Map's iterations, at most MaxConcurrency at a time, resuming any in flight."""
        run, state, effective, frame, context = (
            step.run,
            step.state,
            step.effective,
            step.frame,
            step.context,
        )
        items = asl.read_path(effective, state.get("ItemsPath", "$"), context)
        if not isinstance(items, list):
            raise StatesError("States.Runtime", "the Map's ItemsPath does not point to a list")
        processor = state["ItemProcessor"]
        with run.lock:
            progress = frame.get("map")
            if progress is None:
                progress = {"items": [None] * len(items)}
                for index, value in enumerate(items):
                    item_ctx = {**context, "Map": {"Item": {"Index": index, "Value": value}}}
                    selector = state.get("ItemSelector")
                    item_input = (
                        asl.render_template(selector, effective, item_ctx) if selector else value
                    )
                    progress["items"][index] = {"state": processor["StartAt"], "input": item_input}
                frame["map"] = progress  # pure: written with the first finished iteration
        limit = state.get("MaxConcurrency") or len(items) or 1
        gate = threading.Semaphore(limit)
        failures: list[StatesError] = []

        def iterate(index: int, item_frame: dict[str, Any]) -> None:
            with gate:
                if failures or item_frame["state"] == "#end":
                    return
                item_ctx = {"Map": {"Item": {"Index": index, "Value": items[index]}}}
                try:
                    self._run_scope(run, processor, item_frame, item_ctx)
                except StatesError as exc:
                    failures.append(exc)
                except AbortedError:
                    pass
                with run.lock:
                    self._save(run)

        futures = [self._workers.submit(iterate, index, item_frame)
                   for index, item_frame in enumerate(progress["items"])]  # fmt: skip
        for future in futures:
            future.result()
        self._check_abort(run)
        if failures:
            raise failures[0]
        return [item["input"] for item in progress["items"]]

    # ------------------------------------------------------------------ plumbing

    def _context(
        self, run: _Run, state_name: str, frame: dict[str, Any], ctx: dict[str, Any]
    ) -> dict[str, Any]:
        started = datetime.fromtimestamp(run.doc["started_at"], UTC).isoformat()
        retries = sum(frame.get("retries", {}).values())
        return {
            "Execution": {
                "Id": run.name,
                "Name": run.name,
                "Input": run.doc["input"],
                "StartTime": started,
            },
            "State": {"Name": state_name, "RetryCount": retries},
            **ctx,
        }

    def _check_abort(self, run: _Run) -> None:
        if run.aborted:
            raise AbortedError

    def _sleep(self, run: _Run, seconds: float) -> None:
        with run.lock:
            deadline = self.clock() + seconds
            while not run.aborted and (left := deadline - self.clock()) > 0:
                run.wake.wait(left)
        self._check_abort(run)

    def _save(self, run: _Run, *, terminal: bool = False) -> None:
        from podium.store.models import Checkpoint  # noqa: PLC0415

        checkpoint = Checkpoint(
            run_id=run.name,
            tenant=run.tenant,
            session_id=run.session_id,
            owner=self.owner,
            state=run.doc,
            version=run.version,
            terminal=terminal,
            updated_at=self.clock(),
        )
        try:
            stored = self.store.put_checkpoint(checkpoint, expected_version=run.version)
        except ConflictError:
            # someone wrote a task-token answer into the stored document: merge and retry once
            self._merge_stored_tokens(run)
            checkpoint = checkpoint.model_copy(update={"version": run.version, "state": run.doc})
            stored = self.store.put_checkpoint(checkpoint, expected_version=run.version)
        run.version = stored.version


def _invoke(handler: Handler, payload: Json) -> Json:
    """Call a handler; a failure is reported as the AWS Python runtime reports it to Step
    Functions: the error is the exception's class name, the cause its JSON error body."""
    try:
        return handler(payload)
    except Exception as exc:
        body = lambda_error_payload(exc, skip_frames=1)
        raise StatesError(body["errorType"], error_cause(body)) from exc


def _token_is_waited(doc: dict[str, Any], token: str) -> bool:
    return token in json.dumps(doc.get("frame", {}))


def _substitutions(definition: dict[str, Json]) -> set[str]:
    """The `${Name}` functions a definition's Task states invoke (a Resource, or a
    `lambda:invoke` FunctionName): each needs a handler. A substitution elsewhere (in a
    Parameters value) is data for the task."""
    found: set[str] = set()
    for state in definition.get("States", {}).values():
        if state.get("Type") == "Map":
            found |= _substitutions(state.get("ItemProcessor", {}))
        if state.get("Type") != "Task":
            continue
        reference = state.get("Resource", "")
        if reference in (asl.LAMBDA_INVOKE, asl.LAMBDA_INVOKE_WAIT):
            reference = str((state.get("Parameters") or {}).get("FunctionName", ""))
        match = asl.SUBSTITUTION.match(reference)
        if match is not None:
            found.add(match.group(1))
    return found
