"""Compile agents into the run state machine (Amazon States Language, JSONPath).

One definition serves every agent of a deployment. The run loop is shared —
BeginRun → ModelStep → (tool calls?) → Tools → RecordTools → ModelStep … → EndRun, with every
failure caught into FailRun — and each agent gets its own inline Map of tool calls
(`MaxConcurrency` = its `max_parallel_tools`) whose item processor has one Task state per tool,
carrying that tool's Retry, TimeoutSeconds and Catch, preceded by an approval wait when the
tool needs one.

Task resources are `${Name}` placeholders listed in `run.functions.json`: `template.yaml`
fills them as DefinitionSubstitutions in AWS, and the local executor maps them to the
handlers in `podium.engine.handlers`. State carries ids and small references only; tool
outputs live in the store.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from podium.errors import AgentConfigError
from podium.protocol.agent import Tool
from podium.protocol.bounds import execution_timeout
from podium.protocol.failures import DENIED_ERROR, MODEL_RETRYABLE_ERROR
from podium.protocol.loader import LoadedAgent

ASL_SCHEMA_VERSION = 1

# The fixed substitution names of Podium's own functions, and the handler each one runs.
PODIUM_FUNCTIONS: dict[str, str] = {
    "BeginRunArn": "podium.engine.handlers.begin_run",
    "ModelStepArn": "podium.engine.handlers.model_step",
    "RecordToolsArn": "podium.engine.handlers.record_tools",
    "EndRunArn": "podium.engine.handlers.end_run",
    "FailRunArn": "podium.engine.handlers.fail_run",
    "ToolRunnerArn": "podium.engine.handlers.run_tool",
    "AwaitCallbackArn": "podium.engine.handlers.await_callback",
}

LAMBDA_INVOKE_WAIT = "arn:aws:states:::lambda:invoke.waitForTaskToken"

# Errors from the Lambda service itself: always worth a quick retry, for every task.
LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]
RUN_IDS = ("tenant", "session_id", "run_id", "agent", "agent_hash")


def _ids(prefix: str = "$") -> dict[str, str]:
    return {f"{key}.$": f"{prefix}.{key}" for key in RUN_IDS}


def _service_retry() -> dict[str, Any]:
    return {
        "ErrorEquals": LAMBDA_TRANSIENT,
        "IntervalSeconds": 1,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
    }


def _catch_to_fail() -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "FailRun"}]


def lambda_substitution(agent: str, tool: str) -> str:
    """The DefinitionSubstitutions name of a `lambda` tool's function ARN."""
    return "Tool_" + re.sub(r"[^A-Za-z0-9]", "_", f"{agent}__{tool}")


# ----------------------------------------------------------------------------- tools


def _tool_states(agent: str, tool: Tool) -> dict[str, Any]:
    """The states of one tool inside its agent's Map: [approval wait →] run → outcome."""
    run, failed, denied = f"Run {tool.name}", f"Failed {tool.name}", f"Denied {tool.name}"
    states: dict[str, Any] = {}
    approval = tool.approval_policy
    if approval is not None:
        states[f"Approve {tool.name}"] = {
            "Type": "Task",
            "Comment": "Wait for a human's decision (POST .../approvals).",
            "Resource": LAMBDA_INVOKE_WAIT,
            "Parameters": {
                "FunctionName": "${AwaitCallbackArn}",
                "Payload": {"kind": "approval", "task_token.$": "$$.Task.Token", **_call()},
            },
            "TimeoutSeconds": approval.timeout_s,
            "ResultPath": None,
            "Retry": [_service_retry()],
            "Catch": [
                {"ErrorEquals": [DENIED_ERROR], "ResultPath": "$.error", "Next": denied},
                {
                    "ErrorEquals": ["States.Timeout"],
                    "ResultPath": "$.error" if approval.on_timeout == "deny" else None,
                    "Next": denied if approval.on_timeout == "deny" else run,
                },
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failed},
            ],
            "Next": run,
        }
        states[denied] = {
            "Type": "Pass",
            "Parameters": {
                "call_id.$": "$.call.call_id",
                "outcome": "denied",
                "error.$": "$.error",
            },
            "End": True,
        }
    states[run] = _run_state(agent, tool)
    states[run]["Catch"] = [
        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": failed}
    ]
    states[failed] = {
        "Type": "Pass",
        "Parameters": {"call_id.$": "$.call.call_id", "outcome": "error", "error.$": "$.error"},
        "End": True,
    }
    return states


def _call() -> dict[str, str]:
    """A tool state's input: the run's ids, the step, and the call's reference (its id and
    tool name; the arguments stay in the store, read by the task)."""
    return {**_ids(), "step.$": "$.step", "call.$": "$.call"}


def _run_state(agent: str, tool: Tool) -> dict[str, Any]:
    """The Task that runs one call of `tool`; its output is the call's outcome."""
    state: dict[str, Any] = {"Type": "Task", "TimeoutSeconds": tool.timeout_s}
    if tool.kind == "client":
        state |= {
            "Comment": "Wait for the caller to post the tool's result (POST .../tool-results).",
            "Resource": LAMBDA_INVOKE_WAIT,
            "Parameters": {
                "FunctionName": "${AwaitCallbackArn}",
                "Payload": {"kind": "client_tool", "task_token.$": "$$.Task.Token", **_call()},
            },
            "End": True,
        }
    else:
        parameters: dict[str, Any] = _call()
        if tool.kind == "lambda":  # the tool runner invokes your function, by this ARN
            parameters["function"] = "${" + lambda_substitution(agent, tool.name) + "}"
        state |= {"Resource": "${ToolRunnerArn}", "Parameters": parameters, "End": True}
    state["Retry"] = _tool_retry(tool)
    return state


def _tool_retry(tool: Tool) -> list[dict[str, Any]]:
    if tool.retry is None or tool.retry.max_attempts == 1:
        return [_service_retry()]
    rule: dict[str, Any] = {
        "ErrorEquals": list(tool.retry.errors),
        "IntervalSeconds": tool.retry.interval_s,
        "MaxAttempts": tool.retry.max_attempts - 1,
        "BackoffRate": tool.retry.backoff_rate,
    }
    if tool.retry.max_delay_s is not None:
        rule["MaxDelaySeconds"] = tool.retry.max_delay_s
    # States.ALL must stand alone and last; it already covers the Lambda service errors.
    return [rule] if "States.ALL" in tool.retry.errors else [rule, _service_retry()]


def _agent_map(loaded: LoadedAgent) -> dict[str, Any]:
    agent = loaded.agent
    choices = [
        {
            "Variable": "$.call.name",
            "StringEquals": tool.name,
            "Next": f"Approve {tool.name}" if tool.approval_policy else f"Run {tool.name}",
        }
        for tool in agent.tools
    ]
    states: dict[str, Any] = {
        "Dispatch": {
            "Type": "Choice",
            "Choices": choices,
            "Default": "Unknown tool",
        },
        "Unknown tool": {
            "Type": "Pass",
            "Parameters": {
                "call_id.$": "$.call.call_id",
                "outcome": "error",
                "error": {"Error": "Podium.UnknownTool", "Cause": "not in this agent version"},
            },
            "End": True,
        },
    }
    for tool in agent.tools:
        states.update(_tool_states(agent.name, tool))
    return {
        "Type": "Map",
        "Comment": f"Tool calls of agent {agent.name}, at most "
        f"{agent.limits.max_parallel_tools} at a time.",
        "ItemsPath": "$.step.calls",
        "MaxConcurrency": agent.limits.max_parallel_tools,
        "ItemSelector": {**_ids(), "step.$": "$.step.number", "call.$": "$$.Map.Item.Value"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "INLINE"},
            "StartAt": "Dispatch",
            "States": states,
        },
        "ResultPath": "$.outcomes",
        "Next": "RecordTools",
        "Catch": _catch_to_fail(),
    }


# ----------------------------------------------------------------------------- machine


def _task(
    resource: str, next_state: str | None, *, result_path: str | None, **extra: Any
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "${" + resource + "}",
        "Parameters": extra.pop("parameters", _ids()),
        "ResultPath": result_path,
        "Retry": extra.pop("retry", [_service_retry()]),
    }
    state.update(extra)
    if next_state is None:
        state["End"] = True
    else:
        state["Next"] = next_state
    return state


def compile_machine(agents: Iterable[LoadedAgent]) -> dict[str, Any]:
    """The run state machine for a set of agents (sorted by name, so output is stable)."""
    ordered = sorted(agents, key=lambda loaded: loaded.name)
    names = [loaded.name for loaded in ordered]
    if len(set(names)) != len(names):
        raise AgentConfigError(f"two agents share a name: {sorted(names)}")
    _check_substitution_names(ordered)
    states: dict[str, Any] = {
        "BeginRun": _task("BeginRunArn", "ModelStep", result_path="$.step", Catch=_catch_to_fail()),
        "ModelStep": _task(
            "ModelStepArn",
            "NextAfterModel",
            result_path="$.step",
            parameters={**_ids(), "after_step.$": "$.step.number"},
            retry=[
                _service_retry(),
                {
                    "ErrorEquals": [MODEL_RETRYABLE_ERROR],
                    "IntervalSeconds": 2,
                    "MaxAttempts": 2,
                    "BackoffRate": 2.0,
                },
            ],
            Catch=_catch_to_fail(),
        ),
        "NextAfterModel": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.step.next", "StringEquals": "tools", "Next": "RouteTools"},
                {"Variable": "$.step.next", "StringEquals": "end", "Next": "EndRun"},
            ],
            "Default": "StepFailed",
        },
        "StepFailed": {
            "Type": "Pass",
            "Comment": "ModelStep stopped the run (step limit, budget, time limit).",
            "Parameters": {"Error.$": "$.step.error.Error", "Cause.$": "$.step.error.Cause"},
            "ResultPath": "$.error",
            "Next": "FailRun",
        },
        "RouteTools": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.agent", "StringEquals": loaded.name, "Next": f"Tools {loaded.name}"}
                for loaded in ordered
                if loaded.agent.tools
            ],
            "Default": "NoTools",
        },
        "NoTools": {
            "Type": "Pass",
            "Result": {"Error": "Podium.UnknownAgent", "Cause": "agent has no tools in this build"},
            "ResultPath": "$.error",
            "Next": "FailRun",
        },
        "RecordTools": _task(
            "RecordToolsArn",
            "ModelStep",
            result_path=None,
            parameters={**_ids(), "step.$": "$.step.number", "outcomes.$": "$.outcomes"},
            Catch=_catch_to_fail(),
        ),
        "EndRun": _task("EndRunArn", None, result_path=None, Catch=_catch_to_fail()),
        "FailRun": _task(
            "FailRunArn",
            "RunFailed",
            result_path=None,
            parameters={**_ids(), "error.$": "$.error"},
        ),
        "RunFailed": {"Type": "Fail", "Error": "Podium.RunFailed", "Cause": "see the run's error"},
    }
    with_tools = [loaded for loaded in ordered if loaded.agent.tools]
    for loaded in with_tools:
        states[f"Tools {loaded.name}"] = _agent_map(loaded)
    if not with_tools:  # a Choice needs at least one rule: no agent has tools, no tool states
        del states["RouteTools"], states["RecordTools"]
        states["NextAfterModel"]["Choices"][0]["Next"] = "NoTools"
    return {
        "Comment": "Podium run loop, generated by `podium build` from agents: "
        + ", ".join(names)
        + ". Do not edit.",
        "StartAt": "BeginRun",
        # The longest a run can live, waits on people and callers included (not only the
        # run clock): an execution that times out first would end the run in the middle.
        "TimeoutSeconds": execution_timeout([loaded.agent for loaded in ordered]),
        "States": states,
    }


def _check_substitution_names(agents: list[LoadedAgent]) -> None:
    seen: dict[str, str] = {}
    for loaded in agents:
        for tool in loaded.agent.tools:
            if tool.kind != "lambda":
                continue
            key = lambda_substitution(loaded.name, tool.name)
            where = f"{loaded.name}.{tool.name}"
            if key in seen:
                raise AgentConfigError(
                    f"lambda tools {seen[key]} and {where} map to one name {key}"
                )
            seen[key] = where


def function_map(agents: Iterable[LoadedAgent]) -> dict[str, Any]:
    """`run.functions.json`: every substitution the definition references, and what fills it."""
    functions: dict[str, Any] = {
        name: {"kind": "podium", "handler": handler} for name, handler in PODIUM_FUNCTIONS.items()
    }
    for loaded in sorted(agents, key=lambda a: a.name):
        for tool in loaded.agent.tools:
            if tool.kind == "lambda" and tool.lambda_ is not None:
                functions[lambda_substitution(loaded.name, tool.name)] = {
                    "kind": "lambda_tool",
                    "agent": loaded.name,
                    "tool": tool.name,
                    "function": tool.lambda_,
                }
    return {"schema_version": ASL_SCHEMA_VERSION, "functions": functions}


def render(document: dict[str, Any]) -> str:
    """Stable JSON text for the checked-in files."""
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


def substitutions_used(definition: dict[str, Any]) -> set[str]:
    """Every `${Name}` the definition references."""
    return set(re.findall(r"\$\{([A-Za-z0-9_]+)\}", json.dumps(definition)))
