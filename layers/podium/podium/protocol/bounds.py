"""How long a run of an agent can live, how long its session's lease must last, and how much
history it can write — bounded from the agent file alone.

`podium build` sets the machine's `TimeoutSeconds` from `lifetime_seconds`, the engine renews
the session's lease by `lease_seconds` (a wait by `wait_lease_seconds`), and `podium validate`
refuses an agent whose bounds Step Functions cannot honour (`deployment_problems`).

The run clock (`max_run_seconds`) counts a run's own work: not the time it was queued, nor
the time it waits on a person (an approval) or on the caller (a client tool). So a run can
live much longer than `max_run_seconds`: each model step may park a round of tool calls on
a wait, and a step's calls beyond `max_parallel_tools` wait in further rounds.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

from podium.protocol.agent import Agent, Tool
from podium.protocol.problems import Severity
from podium.protocol.sfn_limits import (
    EXECUTION_EVENTS,
    FAIL_STATE_EVENTS,
    HISTORY_LIMIT,
    MAP_EVENTS,
    MAP_ITERATION_EVENTS,
    MAX_EXECUTION_SECONDS,
    STATE_EVENTS,
    TASK_ATTEMPT_EVENTS,
    TOKEN_TASK_ATTEMPT_EVENTS,
)

LEASE_MARGIN_S = 120
"""Added to every lease and to the execution's timeout: time for the step that notices a
limit to end the run cleanly."""
STEP_SECONDS = 900
"""The longest one step of Podium's own can run (a Lambda's timeout): the model step that
began just before the run clock ran out."""
TOOL_RUNNER_SECONDS = 900
"""The tool runner function's timeout in `template.yaml`: a tool attempt in AWS ends there."""
MODEL_STEP_ATTEMPTS = 3
"""A model step and the machine's two retries of it (`Podium.ModelRetryable`)."""


def wait_seconds(tool: Tool) -> int:
    """The longest one call of `tool` waits on a person or the caller."""
    approval = tool.approval_policy
    return (approval.timeout_s if approval else 0) + (
        tool.timeout_s if tool.kind == "client" else 0
    )


def attempts(tool: Tool) -> int:
    return 1 if tool.retry is None else tool.retry.max_attempts


def attempt_seconds(tool: Tool) -> float:
    """The longest one call of `tool` runs (not waiting): every attempt to its timeout, and
    the delays between them."""
    if tool.kind == "client":
        return 0.0
    total = float(tool.timeout_s * attempts(tool))
    if tool.retry is not None:
        for retry in range(tool.retry.max_attempts - 1):
            delay = tool.retry.interval_s * tool.retry.backoff_rate**retry
            if tool.retry.max_delay_s is not None:
                delay = min(delay, tool.retry.max_delay_s)
            total += delay
    return total


def rounds(agent: Agent) -> int:
    """How many times over a step's calls can fill the Map's concurrency."""
    return math.ceil(agent.limits.max_tool_calls_per_step / agent.limits.max_parallel_tools)


def lifetime_seconds(agent: Agent) -> float:
    """The longest a run can live: its work (the run clock, and one more step begun just
    before it ran out, tools included), plus every wait each step may park its rounds on."""
    tools = agent.tools
    longest_wait = max((wait_seconds(t) for t in tools), default=0)
    longest_call = max((attempt_seconds(t) for t in tools), default=0.0)
    per_step = rounds(agent) * longest_wait if tools else 0
    return (
        agent.limits.max_run_seconds
        + STEP_SECONDS
        + rounds(agent) * longest_call
        + agent.limits.max_steps * per_step
        + LEASE_MARGIN_S
    )


def lease_seconds(agent: Agent) -> float:
    """The session lease's time to live, renewed by each step of the run: long enough to
    reach the next step (the model call, a tool's attempts)."""
    longest_call = max((attempt_seconds(t) for t in agent.tools), default=0.0)
    return max(float(agent.limits.max_run_seconds), longest_call) + LEASE_MARGIN_S


def wait_lease_seconds(seconds: float) -> float:
    """The lease's time to live while a call waits `seconds` on a person or the caller."""
    return seconds + LEASE_MARGIN_S


def execution_timeout(agents: list[Agent]) -> int:
    """The machine's TimeoutSeconds: the longest lifetime of its agents' runs, within the
    year a Standard execution may live."""
    longest = max((lifetime_seconds(a) for a in agents), default=900.0 + LEASE_MARGIN_S)
    return min(MAX_EXECUTION_SECONDS, math.ceil(longest))


def _tool_events(tool: Tool) -> int:
    """History events of one call of `tool`, at worst: its approval, every attempt, and its
    outcome's Pass (failed or denied)."""
    events = 0
    if tool.approval_policy is not None:
        events += STATE_EVENTS + TOKEN_TASK_ATTEMPT_EVENTS
    per_attempt = TOKEN_TASK_ATTEMPT_EVENTS if tool.kind == "client" else TASK_ATTEMPT_EVENTS
    return events + STATE_EVENTS + attempts(tool) * per_attempt + STATE_EVENTS


def history_events(agent: Agent) -> int:
    """The most history events a run of `agent` can write: every step making its most tool
    calls, each to its worst outcome, and the model step retried as often as the machine
    retries it. The machine's quick retries of Lambda service errors are not counted."""
    lambda_task = STATE_EVENTS + TASK_ATTEMPT_EVENTS
    model_step = STATE_EVENTS + MODEL_STEP_ATTEMPTS * TASK_ATTEMPT_EVENTS
    choice = STATE_EVENTS
    call = MAP_ITERATION_EVENTS + choice + max((_tool_events(t) for t in agent.tools), default=0)
    tools_map = MAP_EVENTS + agent.limits.max_tool_calls_per_step * call
    step = model_step + 2 * choice + tools_map + lambda_task if agent.tools else 0
    last_step = (
        model_step + choice + max(lambda_task, STATE_EVENTS + lambda_task + FAIL_STATE_EVENTS)
    )  # EndRun, or StepFailed → FailRun → RunFailed
    return EXECUTION_EVENTS + lambda_task + agent.limits.max_steps * step + last_step


@dataclass(frozen=True)
class BoundProblem:
    path: tuple[str | int, ...]
    message: str
    code: str
    hint: str
    severity: Severity = "error"


def deployment_problems(agent: Agent) -> Iterator[BoundProblem]:
    """What in `agent` Step Functions cannot honour."""
    events = history_events(agent)
    if events >= HISTORY_LIMIT:
        yield BoundProblem(
            ("limits",),
            f"a run can write {events:,} history events; Step Functions fails an execution "
            f"at {HISTORY_LIMIT:,}",
            "history_limit",
            "lower limits.max_steps or limits.max_tool_calls_per_step, or tools' "
            "retry.max_attempts",
        )
    lifetime = lifetime_seconds(agent)
    if lifetime > MAX_EXECUTION_SECONDS:
        yield BoundProblem(
            ("limits",),
            f"with its waits a run can live {lifetime / 86_400:,.0f} days; a Step Functions "
            "execution lives at most 365",
            "wait_too_long",
            "shorten approval or client tool timeouts, or lower limits.max_steps or "
            "limits.max_tool_calls_per_step",
        )
    for index, tool in enumerate(agent.tools):
        if tool.kind != "client" and tool.timeout_s > TOOL_RUNNER_SECONDS:
            yield BoundProblem(
                ("tools", index, "timeout_s"),
                f"timeout_s {tool.timeout_s} is longer than the tool runner can run "
                f"({TOOL_RUNNER_SECONDS} s, a Lambda's limit)",
                "tool_timeout_too_long",
                f"use at most {TOOL_RUNNER_SECONDS}, or a `client` tool for long work "
                "(locally the tool may run this long; in AWS it cannot)",
                severity="warning",
            )
