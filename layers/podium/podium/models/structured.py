"""Structured output: check a final answer against the agent's `output` JSON Schema.

The schema is sent to the provider as `response_format` (see `ModelRequest.output_schema`);
whatever comes back is still validated here, because not every provider enforces it. An
invalid answer gets one repair attempt (`repair_messages`); a second failure is an error.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["parse_output", "repair_messages"]

_FENCE = "```"


def _strip_fence(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith(_FENCE) and stripped.endswith(_FENCE):
        body = stripped[3:-3]
        first_newline = body.find("\n")
        if first_newline != -1 and body[:first_newline].strip().isalpha():
            body = body[first_newline + 1 :]
        return body.strip()
    return stripped


def parse_output(schema: dict[str, Any], text: str) -> tuple[Any, str | None]:
    """(the parsed answer, None) when `text` is JSON satisfying `schema`, else (None, why)."""
    import jsonschema  # noqa: PLC0415 - loaded when an agent declares `output`

    try:
        value = json.loads(_strip_fence(text))
    except ValueError as exc:
        return None, f"the answer is not JSON ({exc})"
    validator_class = jsonschema.validators.validator_for(schema)
    errors = sorted(validator_class(schema).iter_errors(value), key=lambda e: list(e.path))
    if errors:
        first = errors[0]
        where = "/".join(str(part) for part in first.path) or "(root)"
        return None, f"the answer does not match the output schema at {where}: {first.message}"
    return value, None


def repair_messages(
    messages: list[dict[str, Any]], answer: str, problem: str, schema: dict[str, Any]
) -> list[dict[str, Any]]:
    """The conversation for the one repair attempt: the bad answer, then what was wrong."""
    instruction = (
        f"Your previous answer was rejected: {problem}. Reply again with only a JSON value "
        f"that satisfies this JSON Schema, and nothing else:\n{json.dumps(schema)}"
    )
    return [
        *messages,
        {"role": "assistant", "content": answer},
        {"role": "user", "content": instruction},
    ]
