"""Session input variables: checking them against the agent and filling the prompt."""

from __future__ import annotations

from typing import Any

from podium.errors import InputError
from podium.protocol.agent import TEMPLATE_VARIABLE, Agent, matches_type

Value = str | int | float | bool


def resolve_variables(agent: Agent, given: dict[str, Any] | None) -> dict[str, Value]:
    """The session's variables: given values checked by type, defaults filled in.

    Raises InputError naming every unknown, mistyped or missing required variable.
    """
    given = dict(given or {})
    problems: list[str] = []
    for name in sorted(set(given) - set(agent.variables)):
        declared = ", ".join(sorted(agent.variables)) or "none"
        problems.append(f"unknown variable `{name}` (declared: {declared})")
    values: dict[str, Value] = {}
    for name, spec in agent.variables.items():
        if name in given:
            value = given[name]
            if spec.type == "number" and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not matches_type(value, spec.type):
                problems.append(f"variable `{name}` must be a {spec.type}, got {value!r}")
                continue
            values[name] = value
        elif spec.default is not None:
            values[name] = spec.default
        elif spec.required:
            problems.append(f"variable `{name}` is required")
    if problems:
        raise InputError(
            f"invalid variables for agent {agent.name}: " + "; ".join(problems),
            problems=problems,
        )
    return values


def render(template: str, values: dict[str, Value]) -> str:
    """Fill `{{name}}` placeholders; a placeholder with no value stays empty."""

    def substitute(match: Any) -> str:
        value = values.get(match.group(1))
        if value is None:
            return ""
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    return TEMPLATE_VARIABLE.sub(substitute, template)
