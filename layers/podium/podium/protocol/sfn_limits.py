"""Step Functions' limits, as AWS enforces them, and the history each kind of state writes.

The local executor enforces these limits where AWS does (so a run that would fail on AWS
fails locally too), the moto harness enforces them where moto does not, and `podium
validate` bounds an agent's runs by them before anything is deployed.
"""

from __future__ import annotations

import json
from typing import Any

MAX_STATE_BYTES = 262_144
"""A state's input or output, a task's result, an execution's input: 256 KiB of UTF-8 JSON."""
HISTORY_LIMIT = 25_000
"""Events in one execution's history. The event that would pass it is replaced by the
execution's failure (`States.Runtime`), which is event number 25,000."""
MAX_EXECUTION_SECONDS = 31_536_000
"""The longest a Standard execution (and a task token) lives: one year."""

DATA_LIMIT_ERROR = "States.DataLimitExceeded"
RUNTIME_ERROR = "States.Runtime"
HISTORY_LIMIT_CAUSE = "The execution reached the maximum number of history events ({limit})."
UNCATCHABLE_BY_WILDCARDS = frozenset({RUNTIME_ERROR, DATA_LIMIT_ERROR})
"""Errors neither `States.ALL` nor `States.TaskFailed` match: they end the execution."""

# History events, as Step Functions writes them (checked against moto's get_execution_history).
EXECUTION_EVENTS = 2
"""ExecutionStarted, and one of ExecutionSucceeded/Failed/Aborted/TimedOut."""
STATE_EVENTS = 2
"""A Task, Pass, Choice or Succeed state: …StateEntered and …StateExited."""
FAIL_STATE_EVENTS = 1
"""FailStateEntered (the execution's failure follows)."""
TASK_ATTEMPT_EVENTS = 3
"""A Lambda task's attempt: scheduled, started, and succeeded, failed or timed out."""
TOKEN_TASK_ATTEMPT_EVENTS = 4
"""A `.waitForTaskToken` attempt: scheduled, started, submitted, and its outcome."""
MAP_EVENTS = 4
"""MapStateEntered, MapStateStarted, MapStateSucceeded (or Failed) and MapStateExited."""
MAP_ITERATION_EVENTS = 2
"""MapIterationStarted, and MapIterationSucceeded (or Failed, Aborted)."""


def state_bytes(value: Any) -> int:
    """The size Step Functions counts for a state's data: its JSON, in UTF-8."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())
