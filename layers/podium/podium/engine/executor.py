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
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from podium.engine import asl
from podium.engine.asl import AslError, Json, StatesError
from podium.engine.execution import (
    AbortedError,
    DetachedError,
    Execution,
    ExecutionEndedError,
    ExecutionResult,
)
from podium.engine.workers import Workers
from podium.errors import ConflictError, NotFoundError
from podium.protocol.failures import error_cause, lambda_error_payload
from podium.protocol.sfn_limits import (
    HISTORY_LIMIT,
    TASK_ATTEMPT_EVENTS,
    TOKEN_TASK_ATTEMPT_EVENTS,
)

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


@dataclass
class _Step:
    """The state being run: where it is and what it got."""

    run: Execution
    name: str
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
        history_limit: int = HISTORY_LIMIT,
    ) -> None:
        """`replayable`: the handlers (by substitution name) that store their own outcome and
        return it when invoked again: the move past them is not checkpointed, since a resumed
        run re-invokes them for their stored answer instead. `history_limit`: the events an
        execution's history may hold (Step Functions' 25,000; tests use a small one)."""
        asl.check_definition(definition)
        missing = sorted(asl.invoked_functions(definition) - set(handlers))
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
        self.history_limit = history_limit
        self._runs: dict[str, Execution] = {}
        self._futures: dict[str, Future[ExecutionResult]] = {}
        self._workers = Workers(name="podium-run")
        self._guard = threading.Lock()
        self._draining = False

    # ------------------------------------------------------------------ public

    def start(
        self, name: str, payload: dict[str, Any], *, wait: bool = False
    ) -> ExecutionResult | None:
        """Start an execution named `name` (idempotent: a name already stored is not restarted).
        While draining, the execution is stored but not run here: the next runner runs it."""
        doc = {
            "schema_version": CHECKPOINT_SCHEMA,
            "name": name,
            "status": "RUNNING",
            "input": payload,
            "started_at": self.clock(),
            "frame": {"state": self.definition["StartAt"], "input": payload},
            "tokens": {},
            "history": 1,  # ExecutionStarted
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
        if self._draining:
            log.info("run_id=%s | stored, left for the next runner (this one is stopping)", name)
            return None
        run = self._execution(name, checkpoint.tenant, checkpoint.session_id, doc, stored.version)
        return self._launch(run, wait=wait)

    def resume(self, checkpoint: Checkpoint, *, wait: bool = False) -> ExecutionResult | None:
        """Continue a stored execution (taken over from a dead runner, or after a restart)."""
        doc = checkpoint.state
        if not isinstance(doc, dict) or doc.get("status") != "RUNNING":
            return None
        taken = checkpoint.model_copy(update={"owner": self.owner, "updated_at": self.clock()})
        stored = self.store.put_checkpoint(taken, expected_version=checkpoint.version)
        run = self._execution(
            checkpoint.run_id, checkpoint.tenant, checkpoint.session_id, doc, stored.version
        )
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

    def running(self) -> list[str]:
        """The executions running here now."""
        with self._guard:
            return list(self._runs)

    def stop(self, name: str, *, error: str = "Podium.Cancelled", cause: str = "") -> bool:
        """Abort an execution (StopExecution). One running here stops at once (a Map does
        not wait for its tools in flight); one that is not is marked in its stored document,
        so that whoever runs it next — another live runner, or a resumed one — ends it at
        once. False when there is no such execution in flight."""
        abort = {"error": error, "cause": cause}
        run = self._runs.get(name)
        if run is not None:
            with run.lock:
                run.aborted = True
                run.doc["abort"] = abort
                run.wake.notify_all()
            return True

        def mark(doc: dict[str, Any]) -> bool:
            doc.setdefault("abort", abort)
            return True

        return self._write_stored(name, mark)

    def drain(self) -> None:
        """Run no new execution here (this process is about to stop): one started from now
        on is stored for the next runner."""
        self._draining = True

    def detach_all(self) -> None:
        """Let every execution running here go without ending it (the runner is stopping):
        each stays stored as it is, to be resumed by the next runner."""
        with self._guard:
            runs = list(self._runs.values())
        for run in runs:
            run.detach()

    def send_task_success(self, token: str, output: Json) -> None:
        self._deliver(token, {"output": output})

    def send_task_failure(self, token: str, error: str, cause: str = "") -> None:
        self._deliver(token, {"error": error, "cause": cause})

    def send_task_heartbeat(self, token: str) -> None:
        """SendTaskHeartbeat: the task waiting on `token` is alive (its HeartbeatSeconds
        start again)."""
        self._deliver(token, {"heartbeat": self.clock()})

    # ------------------------------------------------------------------ running

    def _execution(
        self, name: str, tenant: str, session_id: str, doc: dict[str, Any], version: int
    ) -> Execution:
        timeout = self.definition.get("TimeoutSeconds")
        deadline = None if timeout is None else float(doc["started_at"]) + float(timeout)
        return Execution(
            name, tenant, session_id, doc, version, clock=self.clock,
            history_limit=self.history_limit, deadline=deadline,
        )  # fmt: skip

    def _launch(self, run: Execution, *, wait: bool) -> ExecutionResult | None:
        with self._guard:
            self._runs[run.name] = run
        if wait:
            return self._execute(run)
        with self._guard:
            self._futures[run.name] = self._workers.submit(self._execute, run)
        return None

    def _execute(self, run: Execution) -> ExecutionResult:
        try:
            output = self._run_scope(run, self.definition, run.doc["frame"], {})
            result = ExecutionResult("SUCCEEDED", output=output)
        except DetachedError:
            log.info("run_id=%s owner=%s | execution let go, left to resume", run.name, self.owner)
            with self._guard:
                self._runs.pop(run.name, None)
                self._futures.pop(run.name, None)
            return ExecutionResult("DETACHED")
        except AbortedError:
            abort = run.doc.get("abort", {})
            result = ExecutionResult("ABORTED", error=abort.get("error"), cause=abort.get("cause"))
        except ExecutionEndedError as exc:
            result = ExecutionResult(exc.status, error=exc.error, cause=exc.cause)
        except StatesError as exc:
            result = ExecutionResult("FAILED", error=exc.error, cause=exc.cause)
        except Exception as exc:  # a bug here must still end the run, never leave it running
            log.exception("run_id=%s | executor failure", run.name)
            result = ExecutionResult("FAILED", error="States.Runtime", cause=repr(exc))
        with run.lock:
            run.aborted = True  # iterations still running stop at their next state
            run.wake.notify_all()
            run.end_history()
            run.doc.update(
                status=result.status,
                output=result.output,
                error=result.error,
                cause=result.cause,
                finished_at=self.clock(),
            )
            run.doc.pop("frame", None)
            try:
                self._save(run, terminal=True)
            except DetachedError:  # taken over just now: the new owner ends it
                return ExecutionResult("DETACHED")
            finally:
                run.ended = True
                with self._guard:
                    self._runs.pop(run.name, None)
                    self._futures.pop(run.name, None)
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
        self, run: Execution, scope: dict[str, Json], frame: dict[str, Any], ctx: dict[str, Any]
    ) -> Json:
        """Run states from `frame` until the scope ends; returns the scope's output."""
        while True:
            run.check()
            name = frame["state"]
            state = scope["States"][name]
            raw = frame["input"]
            context = self._context(run, name, frame, ctx)
            kind = state["Type"]
            run.count_events(1)  # …StateEntered
            if kind == "Fail":
                raise StatesError(state.get("Error", "States.Fail"), state.get("Cause", ""))
            effective = asl.select(raw, state.get("InputPath", "$"), context)
            if kind == "Succeed":
                run.count_events(1)
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
                run.count_events(1)
                self._advance(run, frame, target, output, save=False)  # pure: re-done on resume
                continue
            try:
                if kind == "Pass":
                    result = self._pass_result(state, effective, context)
                else:
                    step = _Step(run, name, state, effective, frame, context)
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
                run.count_events(1)  # …StateExited
                self._advance(run, frame, catcher["Next"], output)
                continue
            if "ResultSelector" in state:
                result = asl.render_template(state["ResultSelector"], result, context)
            combined = asl.write_path(raw, state.get("ResultPath", "$"), result)
            output = asl.select(combined, state.get("OutputPath", "$"), context)
            asl.check_size(output, name)
            run.count_events(1)  # …StateExited
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
        self, run: Execution, frame: dict[str, Any], target: str, output: Json, *, save: bool = True
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
                run.sleep(max(0.0, resume_at - self.clock()))
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
        state, effective, context, run = step.state, step.effective, step.context, step.run
        resource = state["Resource"]
        if resource == asl.LAMBDA_INVOKE_WAIT:
            return self._wait_for_token(step)
        template = state.get("Parameters")
        params = asl.render_template(template, effective, context) if template else effective
        asl.check_size(params, step.name)
        timeout = state.get("TimeoutSeconds")
        run.count_events(TASK_ATTEMPT_EVENTS - 1)  # scheduled, started
        try:
            if resource == asl.LAMBDA_INVOKE:
                handler = self._handler(params.get("FunctionName", ""))
                payload = self._call(run, handler, params.get("Payload", {}), timeout)
                result = {"Payload": payload, "StatusCode": 200, "ExecutedVersion": "$LATEST"}
            else:
                result = self._call(run, self._handler(resource), params, timeout)
        finally:
            run.count_events(1)  # succeeded, failed or timed out
        asl.check_size(result, step.name)
        return result

    def _handler(self, reference: str) -> Handler:
        match = asl.SUBSTITUTION.match(reference)
        if match is None or match.group(1) not in self.handlers:
            raise StatesError("States.Runtime", f"no handler for {reference!r}")
        return self.handlers[match.group(1)]

    def _call(self, run: Execution, handler: Handler, payload: Json, timeout: float | None) -> Json:
        """Invoke a handler, for at most the task's TimeoutSeconds and the execution's time
        left (inline when neither bounds it)."""
        payload = json.loads(json.dumps(payload))  # handlers get their own copy, as over the wire
        left = run.time_left()
        bound = min((t for t in (timeout, left) if t is not None), default=None)
        if bound is None:
            return _invoke(handler, payload)
        future = self._workers.submit(_invoke, handler, payload)
        try:
            return future.result(max(bound, 0.0))
        except FutureTimeout:
            run.check_deadline()
            raise StatesError("States.Timeout", "") from None

    def _wait_for_token(self, step: _Step) -> Json:
        """Invoke the task with a token, then wait (durably) for SendTaskSuccess/Failure, for
        at most TimeoutSeconds, and HeartbeatSeconds between heartbeats."""
        run, frame = step.run, step.frame
        wait = frame.get("wait")
        if wait is None:
            timeout = step.state.get("TimeoutSeconds")
            wait = {
                "token": f"{run.name}.{secrets.token_urlsafe(12)}",
                "deadline": None if timeout is None else self.clock() + timeout,
                "beat": self.clock(),
                "invoked": False,
            }
            with run.lock:
                frame["wait"] = wait
                self._save(run)
        if not wait["invoked"]:
            self._invoke_with_token(step, wait)
        with run.lock:
            while True:
                run.check()
                answer = run.doc["tokens"].pop(wait["token"], None)
                if answer is not None and "heartbeat" in answer:
                    wait["beat"] = max(float(answer["heartbeat"]), float(wait.get("beat", 0)))
                    self._save(run)
                    continue
                if answer is not None:
                    frame.pop("wait", None)
                    run.count_events(1)  # succeeded or failed
                    self._save(run)
                    if "error" in answer:
                        raise StatesError(answer["error"], answer.get("cause", ""))
                    asl.check_size(answer["output"], step.name)
                    return answer["output"]
                self._token_timeouts(step, wait)
                self._merge_stored_tokens(run)

    def _invoke_with_token(self, step: _Step, wait: dict[str, Any]) -> None:
        """The task's invocation, with `$$.Task.Token` in its context."""
        run = step.run
        context = {**step.context, "Task": {"Token": wait["token"]}}
        params = asl.render_template(step.state["Parameters"], step.effective, context)
        asl.check_size(params, step.name)
        run.count_events(TOKEN_TASK_ATTEMPT_EVENTS - 2)  # scheduled, started
        handler = self._handler(params.get("FunctionName", ""))
        try:
            self._call(run, handler, params.get("Payload", {}), None)
        except StatesError:
            run.count_events(1)  # failed
            with run.lock:
                step.frame.pop("wait", None)
            raise
        run.count_events(1)  # submitted
        with run.lock:
            wait["invoked"] = True
            self._save(run)

    def _token_timeouts(self, step: _Step, wait: dict[str, Any]) -> None:
        """With the run's lock held: fail the wait if its TimeoutSeconds or HeartbeatSeconds
        passed, else sleep until an answer or the nearest deadline (a poll at most)."""
        run, heartbeat = step.run, step.state.get("HeartbeatSeconds")
        now = self.clock()
        beat_due = None if heartbeat is None else float(wait["beat"]) + float(heartbeat)
        for due, error in ((beat_due, "States.HeartbeatTimeout"),
                           (wait["deadline"], "States.Timeout")):  # fmt: skip
            if due is not None and now >= due:
                step.frame.pop("wait", None)
                run.count_events(1)  # timed out
                raise StatesError(error, "")
        dues = [t - now for t in (beat_due, wait["deadline"], run.deadline) if t is not None]
        run.wake.wait(min([TOKEN_POLL_S, *dues]))

    def _deliver(self, token: str, answer: dict[str, Any]) -> None:
        name = token.split(".", 1)[0]
        run = self._runs.get(name)
        if run is not None:
            with run.lock:
                if not _token_is_waited(run.doc, token):
                    raise NotFoundError("no task is waiting on this token", token=token[:12])
                if _record_answer(run.doc, token, answer):
                    self._save(run)
                    run.wake.notify_all()
            return
        waited: list[bool] = []

        def record(doc: dict[str, Any]) -> bool:  # not running here: into the stored document
            waited.append(_token_is_waited(doc, token))
            return waited[-1] and _record_answer(doc, token, answer)

        if not self._write_stored(name, record) and not all(waited or [False]):
            raise NotFoundError("no task is waiting on this token", token=token[:12])

    def _merge_stored_tokens(self, run: Execution) -> None:
        """What another process wrote into the stored document: task-token answers (see
        `_deliver`) and a stop (see `stop`). A document another runner now owns means this
        one lost the execution: it lets it go (DetachedError) and writes nothing more."""
        try:
            stored = self.store.get_checkpoint(run.name)
        except NotFoundError:
            return
        if stored.version == run.version or not isinstance(stored.state, dict):
            return
        if stored.owner != self.owner:
            run.detach()
            raise DetachedError
        run.doc["tokens"].update(stored.state.get("tokens", {}))
        if "abort" in stored.state and not run.aborted:
            run.doc["abort"] = stored.state["abort"]
            run.aborted = True
            run.wake.notify_all()
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
        run.count_events(1)  # MapStateStarted

        def iterate(index: int, item_frame: dict[str, Any]) -> None:
            with gate:
                if failures or item_frame["state"] == "#end":
                    return
                item_ctx = {"Map": {"Item": {"Index": index, "Value": items[index]}}}
                run.count_events(1)  # MapIterationStarted
                try:
                    self._run_scope(run, processor, item_frame, item_ctx)
                except StatesError as exc:
                    failures.append(exc)
                except AbortedError:
                    pass
                run.count_events(1)  # MapIterationSucceeded, Failed or Aborted
                with run.lock:
                    self._save(run)

        futures = [self._workers.submit(iterate, index, item_frame)
                   for index, item_frame in enumerate(progress["items"])]  # fmt: skip
        for future in futures:  # woken by each iteration's end, and by a stop
            future.add_done_callback(lambda _: self._notify(run))
        with run.lock:
            while not all(future.done() for future in futures):
                run.check()  # a stop ends the Map now: tools in flight are not waited for
                run.wake.wait(TOKEN_POLL_S)
        for future in futures:
            future.result()  # an iteration's own failure (not a state's) surfaces here
        run.check()
        run.count_events(1)  # MapStateSucceeded or MapStateFailed
        if failures:
            raise failures[0]
        return [item["input"] for item in progress["items"]]

    # ------------------------------------------------------------------ plumbing

    def _context(
        self, run: Execution, state_name: str, frame: dict[str, Any], ctx: dict[str, Any]
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

    @staticmethod
    def _notify(run: Execution) -> None:
        with run.lock:
            run.wake.notify_all()

    def _write_stored(self, name: str, change: Callable[[dict[str, Any]], bool]) -> bool:
        """Apply `change` to the stored document of an execution still in flight (not
        running here); False when there is none, or `change` declines."""
        for _ in range(20):
            try:
                checkpoint = self.store.get_checkpoint(name)
            except NotFoundError:
                return False
            doc = checkpoint.state
            if not isinstance(doc, dict) or doc.get("status") != "RUNNING" or not change(doc):
                return False
            try:
                self.store.put_checkpoint(
                    checkpoint.model_copy(update={"state": doc}),
                    expected_version=checkpoint.version,
                )
                return True
            except ConflictError:
                continue
        raise ConflictError("could not write the stored execution", run_id=name)

    def _save(self, run: Execution, *, terminal: bool = False) -> None:
        from podium.store.models import Checkpoint  # noqa: PLC0415

        if run.ended or (run.detached and not terminal):
            if run.detached:
                raise DetachedError
            return  # a task finishing after the execution ended: its end stays as stored

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
            # another process wrote into the stored document (a task-token answer, a stop),
            # or took the execution over (DetachedError): merge and retry once
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


def _record_answer(doc: dict[str, Any], token: str, answer: dict[str, Any]) -> bool:
    """Keep a token's answer in the document; False for a heartbeat that comes after the
    answer (it changes nothing)."""
    tokens = doc.setdefault("tokens", {})
    if "heartbeat" in answer and "heartbeat" not in tokens.get(token, {"heartbeat": 0}):
        return False
    tokens[token] = answer
    return True


def _token_is_waited(doc: dict[str, Any], token: str) -> bool:
    return token in json.dumps(doc.get("frame", {}))
