"""The local runner: the run machine on Podium's own executor, in this process, durable in the
local store. It holds an ownership lease renewed by a heartbeat; on start it resumes the runs
whose owner's lease expired (a crashed or killed process) — never a run another live process
is executing."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import threading
from pathlib import Path
from typing import Any

from podium import settings
from podium.engine.execution import ExecutionResult
from podium.engine.executor import LocalExecutor
from podium.engine.runtime import Runtime, set_runtime
from podium.errors import ConflictError, NotFoundError
from podium.protocol.compile import PODIUM_FUNCTIONS, compile_machine
from podium.protocol.loader import load_agents

log = logging.getLogger(__name__)

RUNNER_LEASE_S = 15.0


class LocalOrchestrator:
    """`Orchestrator` over a LocalExecutor (StartExecution, SendTask*, StopExecution)."""

    def __init__(self, executor: LocalExecutor) -> None:
        self.executor = executor

    def start(self, name: str, payload: dict[str, Any]) -> str:
        self.executor.start(name, payload)
        return self.reference(name)

    def reference(self, name: str) -> str:
        return f"local:{name}"

    def stop(self, name: str, *, cause: str) -> None:
        """Stop an execution running here; one that is not (its runner died, or another
        process runs it) is marked stopped in the store, ended at once by whoever runs it
        next, and NotFoundError tells the caller to close its run now."""
        here = self.executor.is_running(name)
        if not self.executor.stop(name, cause=cause) or not here:
            raise NotFoundError(f"execution {name} is not running here")

    def send_task_success(self, token: str, output: Any) -> None:
        self.executor.send_task_success(token, output)

    def send_task_failure(self, token: str, error: str, cause: str) -> None:
        self.executor.send_task_failure(token, error, cause)


REPLAYABLE_FUNCTIONS = frozenset({"BeginRunArn", "ModelStepArn", "RecordToolsArn"})
"""Podium's handlers that store their outcome and return it when invoked again (the run's
start, a model step's result, the tool results' messages, all keyed by run and step): the
executor does not checkpoint after them. Tools are not among them: a tool may have effects."""


class LocalRunner:
    """Owns the executor, the heartbeat and the recovery of orphaned runs."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        definition: dict[str, Any] | None = None,
        lease_s: float | None = None,
        retry_sleep_scale: float = 1.0,
        owner: str | None = None,
    ) -> None:
        self.runtime = runtime
        self.lease_s = lease_s or float(
            settings.resolve(None, settings.ENV_RUNNER_LEASE_S, str(RUNNER_LEASE_S))
        )
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        if definition is None:
            agents_dir = runtime.agents.agents_dir
            if agents_dir is None:
                raise NotFoundError("no agents folder: the local runner compiles it")
            definition = compile_machine(load_agents(agents_dir).values())
        self.executor = LocalExecutor(
            definition,
            _handlers(),
            runtime.store,
            owner=self.owner,
            sleep_scale=retry_sleep_scale,
            clock=runtime.clock,
            on_finish=self._finished,
            replayable=REPLAYABLE_FUNCTIONS,
        )
        runtime.orchestrator = LocalOrchestrator(self.executor)
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    def start(self) -> list[str]:
        """Install the runtime, take the runner lease, resume orphaned runs; returns their ids.
        From then on, while this runner lives, it keeps taking over the runs no live runner
        owns (a process that died, or stopped, leaves its runs to the others)."""
        set_runtime(self.runtime)
        self.runtime.store.acquire_runner_lease(self.owner, self.lease_s)
        resumed = self.recover()
        self._heartbeat = threading.Thread(target=self._beat, name="podium-heartbeat", daemon=True)
        self._heartbeat.start()
        return resumed

    def recover(self) -> list[str]:
        """Resume every unfinished run whose owner is no live runner; returns their ids."""
        live = {self.owner, *self.runtime.store.list_live_owners()}
        resumed = []
        for checkpoint in self.runtime.store.list_checkpoints():
            if checkpoint.owner in live or self.executor.is_running(checkpoint.run_id):
                continue
            try:
                self.executor.resume(checkpoint)
            except ConflictError:
                continue  # another runner took it first
            resumed.append(checkpoint.run_id)
        if resumed:
            log.info("owner=%s runs=%s | took over orphaned runs", self.owner, resumed)
        return resumed

    def stop(self) -> None:
        """Stop taking work, let this process's executions go unended (each stays stored as
        it is), and give up the lease: another runner resumes them at once."""
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(5)
        self.executor.drain()
        self.executor.detach_all()
        with contextlib.suppress(NotFoundError):
            self.runtime.store.release_runner_lease(self.owner)

    def _beat(self) -> None:
        while not self._stop.wait(self.lease_s / 3):
            try:
                self.runtime.store.heartbeat(self.owner, self.lease_s)
            except ConflictError:
                log.error("owner=%s | runner lease lost; re-registering", self.owner)
                self.runtime.store.acquire_runner_lease(self.owner, self.lease_s)
            except Exception:
                log.exception("owner=%s | heartbeat failed", self.owner)
                continue
            try:
                self.recover()
            except Exception:
                log.exception("owner=%s | recovering orphaned runs failed", self.owner)

    def _finished(self, name: str, payload: dict[str, Any], result: ExecutionResult) -> None:
        """An execution ended: close its run if the machine did not (a succeeded machine
        always has, through EndRun or FailRun)."""
        if result.status == "SUCCEEDED":
            return
        from podium.engine.step_run import finish_execution  # noqa: PLC0415

        finish_execution(self.runtime, payload, result.status, result.error, result.cause)


def _handlers() -> dict[str, Any]:
    from podium.engine import handlers  # noqa: PLC0415

    return {
        name: getattr(handlers, path.rsplit(".", 1)[1]) for name, path in PODIUM_FUNCTIONS.items()
    }


def load_definition(path: Path) -> dict[str, Any]:
    """A checked-in `run.asl.json`."""
    return dict(json.loads(path.read_text(encoding="utf-8")))
