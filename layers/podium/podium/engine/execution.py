"""One execution of the local executor: its stored document, the lock and condition its
threads share, and the limits Step Functions puts on it while it runs — its TimeoutSeconds
and the size of its history."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from podium.protocol.sfn_limits import HISTORY_LIMIT, HISTORY_LIMIT_CAUSE, RUNTIME_ERROR

Json = Any


class AbortedError(Exception):
    """The execution was stopped (cancel) while running."""


class DetachedError(Exception):
    """This process lets the execution go without ending it: its runner is shutting down,
    or another runner took it over. The stored execution stays as it is, to be resumed."""


class ExecutionEndedError(Exception):
    """The execution ends at once, past every Retry and Catch, as on AWS: its history is
    full (FAILED, `States.Runtime`) or its `TimeoutSeconds` passed (TIMED_OUT)."""

    def __init__(self, status: str, error: str, cause: str = "") -> None:
        super().__init__(f"{status}: {error}")
        self.status = status
        self.error = error
        self.cause = cause


@dataclass
class ExecutionResult:
    status: str  # SUCCEEDED | FAILED | ABORTED | TIMED_OUT
    output: Json = None
    error: str | None = None
    cause: str | None = None


@dataclass
class Execution:
    """One execution in memory: its document (checkpointed), its lock and waiters."""

    name: str
    tenant: str
    session_id: str
    doc: dict[str, Any]
    version: int
    clock: Callable[[], float]
    history_limit: int = HISTORY_LIMIT
    deadline: float | None = None
    """When the execution's TimeoutSeconds passes (None: it has none)."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    wake: threading.Condition = field(init=False)
    aborted: bool = False
    detached: bool = False
    """Let go by this process (shutdown, or taken over): it must write nothing more."""
    ended: bool = False
    """Its end is stored: a thread still finishing a task must not write over it."""

    def __post_init__(self) -> None:
        self.wake = threading.Condition(self.lock)
        self.aborted = "abort" in self.doc  # stopped while no runner held it

    def check(self) -> None:
        """Stop here if the execution was let go or stopped, or its time is up."""
        if self.detached:
            raise DetachedError
        if self.aborted:
            raise AbortedError
        self.check_deadline()

    def detach(self) -> None:
        with self.lock:
            self.detached = True
            self.wake.notify_all()

    def check_deadline(self) -> None:
        """The execution's TimeoutSeconds passed: it times out, whatever state it is in."""
        if self.deadline is not None and self.clock() >= self.deadline:
            raise ExecutionEndedError("TIMED_OUT", "States.Timeout", "")

    def time_left(self) -> float | None:
        return None if self.deadline is None else self.deadline - self.clock()

    def count_events(self, count: int) -> None:
        """Count history events as Step Functions writes them; the event that would fill the
        history fails the execution instead (it becomes the history's last event)."""
        with self.lock:
            history = int(self.doc.get("history", 1))
            for _ in range(count):
                if history + 1 >= self.history_limit:
                    self.doc["history"] = history
                    cause = HISTORY_LIMIT_CAUSE.format(limit=self.history_limit)
                    raise ExecutionEndedError("FAILED", RUNTIME_ERROR, cause)
                history += 1
            self.doc["history"] = history

    def end_history(self) -> None:
        """The execution's last event: it succeeded, failed, was aborted or timed out."""
        with self.lock:
            self.doc["history"] = int(self.doc.get("history", 1)) + 1

    def sleep(self, seconds: float) -> None:
        """Wait `seconds` (a retry's interval), woken early by a stop; never past the
        execution's deadline."""
        with self.lock:
            deadline = self.clock() + seconds
            if self.deadline is not None:
                deadline = min(deadline, self.deadline)
            while not (self.aborted or self.detached) and (left := deadline - self.clock()) > 0:
                self.wake.wait(left)
        self.check()
