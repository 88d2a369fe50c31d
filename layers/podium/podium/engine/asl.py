"""The parts of Amazon States Language (JSONPath) that `podium build` emits, as pure functions:
paths, payload templates, input/output processing, Choice rules and error matching.

Anything outside that subset is refused by `check_definition` with the state and field named,
so the local executor never silently diverges from Step Functions.
"""

from __future__ import annotations

import copy
import fnmatch
import re
from collections.abc import Callable
from typing import Any

from podium.errors import PodiumError
from podium.protocol.sfn_limits import (
    DATA_LIMIT_ERROR,
    MAX_STATE_BYTES,
    UNCATCHABLE_BY_WILDCARDS,
    state_bytes,
)

Json = Any


class AslError(PodiumError):
    """A definition outside the supported subset, or an impossible path at run time."""

    code = "asl_error"


class StatesError(Exception):
    """A failure inside a run, with a Step Functions error name (`States.Timeout`,
    `States.TaskFailed`, or the name a task raised) and its cause."""

    def __init__(self, error: str, cause: str = "") -> None:
        super().__init__(f"{error}: {cause}" if cause else error)
        self.error = error
        self.cause = cause

    def as_output(self) -> dict[str, str]:
        return {"Error": self.error, "Cause": self.cause}


# ------------------------------------------------------------------------------ paths

_SEGMENT = re.compile(r"\.([A-Za-z0-9_\-]+)|\[(\d+)\]|\['([^']*)'\]")


def parse_path(path: str) -> tuple[bool, list[str | int]]:
    """`$.a.b[0]` → (False, ["a", "b", 0]); `$$.Task.Token` → (True, ["Task", "Token"])."""
    context = path.startswith("$$")
    rest = path[2:] if context else path[1:] if path.startswith("$") else None
    if rest is None:
        raise AslError(f"path {path!r} must start with $")
    parts: list[str | int] = []
    position = 0
    while position < len(rest):
        match = _SEGMENT.match(rest, position)
        if match is None:
            raise AslError(f"unsupported JSONPath {path!r} (only $.a.b[0] forms are supported)")
        name, index, quoted = match.groups()
        parts.append(int(index) if index is not None else (name if name is not None else quoted))
        position = match.end()
    return context, parts


def read_path(document: Json, path: str, context: Json) -> Json:
    """The value at `path` in the document (or the context object for `$$`)."""
    is_context, parts = parse_path(path)
    node = context if is_context else document
    for part in parts:
        in_list = isinstance(part, int) and isinstance(node, list) and part < len(node)
        if in_list or (isinstance(part, str) and isinstance(node, dict) and part in node):
            node = node[part]
        else:
            raise StatesError("States.Runtime", f"path {path!r} not found in the input")
    return node


def has_path(document: Json, path: str) -> bool:
    try:
        read_path(document, path, {})
    except StatesError:
        return False
    return True


def write_path(document: Json, path: str | None, value: Json) -> Json:
    """ResultPath: null keeps the input, `$` replaces it, `$.a.b` sets a field in a copy."""
    if path is None:
        return document
    is_context, parts = parse_path(path)
    if is_context:
        raise AslError(f"ResultPath {path!r} cannot point into the context object")
    if not parts:
        return value
    root = copy.deepcopy(document) if isinstance(document, dict) else {}
    node = root
    for part in parts[:-1]:
        if not isinstance(part, str):
            raise AslError(f"ResultPath {path!r}: only field names are supported")
        child = node.get(part)
        if not isinstance(child, dict):
            child = {}
            node[part] = child
        node = child
    last = parts[-1]
    if not isinstance(last, str):
        raise AslError(f"ResultPath {path!r}: only field names are supported")
    node[last] = value
    return root


def render_template(template: Json, document: Json, context: Json) -> Json:
    """Parameters / ItemSelector / ResultSelector: `key.$` fields are read from paths."""
    if isinstance(template, dict):
        out: dict[str, Json] = {}
        for key, value in template.items():
            if key.endswith(".$"):
                if not isinstance(value, str) or not value.startswith("$"):
                    raise AslError(f"{key}: intrinsic functions are not supported ({value!r})")
                out[key[:-2]] = copy.deepcopy(read_path(document, value, context))
            else:
                out[key] = render_template(value, document, context)
        return out
    if isinstance(template, list):
        return [render_template(item, document, context) for item in template]
    return template


def select(document: Json, path: str | None, context: Json) -> Json:
    """InputPath / OutputPath: null gives {}, `$` the whole document."""
    if path is None:
        return {}
    return read_path(document, path, context)


# ------------------------------------------------------------------------------ choices

_COMPARATORS: dict[str, Callable[[Json, Json], bool]] = {
    "StringEquals": lambda a, b: isinstance(a, str) and a == b,
    "StringLessThan": lambda a, b: isinstance(a, str) and a < b,
    "StringGreaterThan": lambda a, b: isinstance(a, str) and a > b,
    "StringLessThanEquals": lambda a, b: isinstance(a, str) and a <= b,
    "StringGreaterThanEquals": lambda a, b: isinstance(a, str) and a >= b,
    "StringMatches": lambda a, b: isinstance(a, str) and fnmatch.fnmatchcase(a, b),
    "NumericEquals": lambda a, b: _number(a) and a == b,
    "NumericLessThan": lambda a, b: _number(a) and a < b,
    "NumericGreaterThan": lambda a, b: _number(a) and a > b,
    "NumericLessThanEquals": lambda a, b: _number(a) and a <= b,
    "NumericGreaterThanEquals": lambda a, b: _number(a) and a >= b,
    "BooleanEquals": lambda a, b: isinstance(a, bool) and a == b,
    "IsNull": lambda a, b: (a is None) == b,
    "IsString": lambda a, b: isinstance(a, str) == b,
    "IsNumeric": lambda a, b: _number(a) == b,
    "IsBoolean": lambda a, b: isinstance(a, bool) == b,
}
_MISSING = object()


def _number(value: Json) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def choice_matches(rule: dict[str, Json], document: Json, context: Json) -> bool:
    """Evaluate one Choice rule (And / Or / Not / a comparison on `Variable`)."""
    if "And" in rule:
        return all(choice_matches(r, document, context) for r in rule["And"])
    if "Or" in rule:
        return any(choice_matches(r, document, context) for r in rule["Or"])
    if "Not" in rule:
        return not choice_matches(rule["Not"], document, context)
    variable = rule["Variable"]
    if "IsPresent" in rule:
        return has_path(document, variable) is bool(rule["IsPresent"])
    value = read_path(document, variable, context) if has_path(document, variable) else _MISSING
    for name, compare in _COMPARATORS.items():
        if name in rule:
            if value is _MISSING:
                raise StatesError("States.Runtime", f"Choice variable {variable!r} not found")
            return bool(compare(value, rule[name]))
        if f"{name}Path" in rule:
            other = read_path(document, rule[f"{name}Path"], context)
            return value is not _MISSING and bool(compare(value, other))
    raise AslError(f"unsupported Choice rule {sorted(rule)}")


# ------------------------------------------------------------------------------ errors


def error_matches(names: list[str], error: str) -> bool:
    """Retry/Catch ErrorEquals, as AWS documents it: States.ALL matches every error but
    States.Runtime and States.DataLimitExceeded (they end the execution); States.TaskFailed
    matches the same but States.Timeout too."""
    for name in names:
        if name == error:
            return True
        if name == "States.ALL" and error not in UNCATCHABLE_BY_WILDCARDS:
            return True
        if (
            name == "States.TaskFailed"
            and error not in UNCATCHABLE_BY_WILDCARDS
            and error != "States.Timeout"
        ):
            return True
    return False


def check_size(value: Json, state_name: str) -> None:
    """A state's data over 256 KiB fails it with States.DataLimitExceeded, which neither
    States.ALL nor States.TaskFailed catches."""
    if state_bytes(value) >= MAX_STATE_BYTES:
        raise StatesError(
            DATA_LIMIT_ERROR,
            f"The state/task '{state_name}' returned a result with a size exceeding the "
            "maximum number of bytes service limit.",
        )


def retry_delay(rule: dict[str, Json], retry_count: int) -> float:
    """Seconds before retry number `retry_count + 1` under a Retry rule."""
    delay = (
        float(rule.get("IntervalSeconds", 1)) * float(rule.get("BackoffRate", 2.0)) ** retry_count
    )
    cap = rule.get("MaxDelaySeconds")
    return min(delay, float(cap)) if cap is not None else delay


# ------------------------------------------------------------------------------ checking

_COMMON = {"Type", "Comment", "Next", "End", "InputPath", "OutputPath"}
_ALLOWED: dict[str, set[str]] = {
    "Task": _COMMON
    | {
        "Resource",
        "Parameters",
        "ResultSelector",
        "ResultPath",
        "Retry",
        "Catch",
        "TimeoutSeconds",
        "HeartbeatSeconds",
    },
    "Pass": _COMMON | {"Result", "Parameters", "ResultPath"},
    "Choice": {"Type", "Comment", "Choices", "Default", "InputPath", "OutputPath"},
    "Map": _COMMON
    | {
        "ItemsPath",
        "ItemSelector",
        "ItemProcessor",
        "MaxConcurrency",
        "ResultPath",
        "ResultSelector",
        "Retry",
        "Catch",
        "Parameters",
        "Iterator",
    },
    "Succeed": {"Type", "Comment", "InputPath", "OutputPath"},
    "Fail": {"Type", "Comment", "Error", "Cause"},
}
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
LAMBDA_INVOKE_WAIT = "arn:aws:states:::lambda:invoke.waitForTaskToken"
SUBSTITUTION = re.compile(r"^\$\{([A-Za-z0-9_]+)\}$")


def check_definition(definition: dict[str, Json], scope: str = "") -> None:
    """Raise AslError naming the first state or field outside the supported subset."""
    states = definition.get("States")
    if not isinstance(states, dict) or definition.get("StartAt") not in states:
        raise AslError(f"{scope or 'definition'}: StartAt must name one of States")
    for name, state in states.items():
        where = f"{scope}{name}"
        kind = state.get("Type")
        if kind not in _ALLOWED:
            raise AslError(f"state {where!r}: type {kind!r} is not supported by the local executor")
        extra = set(state) - _ALLOWED[kind]
        if extra:
            raise AslError(f"state {where!r}: field(s) {sorted(extra)} are not supported")
        for target in _targets(state):
            if target not in states:
                raise AslError(f"state {where!r}: transition to unknown state {target!r}")
        for template in ("Parameters", "ItemSelector", "ResultSelector"):
            _check_template(state.get(template), f"state {where!r} {template}")
        if kind == "Task":
            _check_task(state, where)
        if kind == "Map":
            if "Iterator" in state or "Parameters" in state:
                raise AslError(f"state {where!r}: use ItemProcessor/ItemSelector (not Iterator)")
            processor = state.get("ItemProcessor", {})
            mode = processor.get("ProcessorConfig", {}).get("Mode", "INLINE")
            if mode != "INLINE":
                raise AslError(f"state {where!r}: only INLINE Map is supported, not {mode}")
            check_definition(processor, f"{where}/")


def _check_task(state: dict[str, Json], where: str) -> None:
    resource = state.get("Resource", "")
    if not (SUBSTITUTION.match(resource) or resource in {LAMBDA_INVOKE, LAMBDA_INVOKE_WAIT}):
        raise AslError(f"state {where!r}: resource {resource!r} is not supported")
    if "HeartbeatSeconds" in state and resource != LAMBDA_INVOKE_WAIT:
        raise AslError(
            f"state {where!r}: HeartbeatSeconds is supported on .waitForTaskToken tasks only "
            "(a Lambda invocation sends no heartbeats)"
        )


def _check_template(template: Json, where: str) -> None:
    if isinstance(template, dict):
        for key, value in template.items():
            if key.endswith(".$") and not (isinstance(value, str) and value.startswith("$")):
                raise AslError(f"{where}: {key} uses an intrinsic function, not supported")
            _check_template(value, where)
    elif isinstance(template, list):
        for item in template:
            _check_template(item, where)


def _targets(state: dict[str, Json]) -> list[str]:
    targets = [state.get("Next"), state.get("Default")]
    targets += [rule.get("Next") for rule in state.get("Choices", [])]
    targets += [rule.get("Next") for rule in state.get("Catch", [])]
    return [t for t in targets if t]


def invoked_functions(definition: dict[str, Json]) -> set[str]:
    """The `${Name}` functions a definition's Task states invoke (a Resource, or a
    `lambda:invoke` FunctionName): each needs a handler. A substitution elsewhere (in a
    Parameters value) is data for the task."""
    found: set[str] = set()
    for state in definition.get("States", {}).values():
        if state.get("Type") == "Map":
            found |= invoked_functions(state.get("ItemProcessor", {}))
        if state.get("Type") != "Task":
            continue
        reference = state.get("Resource", "")
        if reference in (LAMBDA_INVOKE, LAMBDA_INVOKE_WAIT):
            reference = str((state.get("Parameters") or {}).get("FunctionName", ""))
        match = SUBSTITUTION.match(reference)
        if match is not None:
            found.add(match.group(1))
    return found
