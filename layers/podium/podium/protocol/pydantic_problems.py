"""Turn pydantic's validation errors into located problems with fix hints."""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError

from podium.protocol import agent as protocol
from podium.protocol.problems import Problem, format_path
from podium.protocol.source import Path, SourceDocument

_PATTERN_HINTS = {
    protocol.NAME_PATTERN: "lowercase letters, digits, '-' and '_', starting with a letter",
    protocol.ALIAS_PATTERN: "letters, digits, '-' and '_', starting with a letter",
    protocol.TOOL_NAME_PATTERN: "letters, digits, '-' and '_', starting with a letter (≤ 64)",
    protocol.VARIABLE_PATTERN: "a Python-style identifier, e.g. customer_name",
    protocol.PYTHON_REF_PATTERN: "'module:function', e.g. 'tools:get_weather'",
    protocol.MODEL_STRING_PATTERN: "a litellm 'provider/model' string, e.g. openai/gpt-4.1-mini",
    protocol.ERROR_NAME_PATTERN: "an error name such as States.Timeout or ConnectionError",
    protocol.LAMBDA_REF_PATTERN: "a Lambda function name (my-tool) or ARN, optionally :alias",
}


def problems_from_validation(
    error: ValidationError, document: SourceDocument, file: str
) -> list[Problem]:
    """One problem per distinct (path, kind) in the error, located in the source."""
    grouped: dict[tuple[Path, str], list[dict[str, Any]]] = {}
    for item in error.errors():
        path = _data_path(item["loc"], document.data)
        kind = "unknown_key" if item["type"] == "extra_forbidden" else "invalid"
        grouped.setdefault((path, kind), []).append(dict(item))
    problems = []
    for (path, kind), items in grouped.items():
        if kind == "unknown_key":
            problems.append(_unknown_key(path, document, file))
        else:
            problems.append(_invalid(path, items, document, file))
    return problems


def _data_path(loc: tuple[int | str, ...], data: Any) -> Path:
    """Keep the parts of pydantic's loc that index the data; drop union/validator tags."""
    path: list[str | int] = []
    node = data
    for part in loc:
        indexes_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if (isinstance(node, dict) and part in node) or indexes_list:
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and not _is_tag(part):
            # a missing field: name it, it is where the fix goes
            path.append(part)
            node = None
    return tuple(path)


def _is_tag(part: str) -> bool:
    return "[" in part or not part.islower() or part in {"str", "int", "float", "bool", "dict"}


def _unknown_key(path: Path, document: SourceDocument, file: str) -> Problem:
    key = str(path[-1])
    allowed = sorted(_allowed_keys(path[:-1]))
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    if close:
        hint = f"did you mean `{close[0]}`?"
    elif allowed:
        hint = "allowed keys here: " + ", ".join(allowed)
    else:
        hint = "remove it"
    location = document.locate(path, prefer_key=True)
    return Problem(
        file=file,
        line=location.line,
        column=location.column,
        path=format_path(path),
        message=f"unknown key `{key}`",
        hint=hint,
        code="unknown_key",
    )


def _invalid(
    path: Path, items: list[dict[str, Any]], document: SourceDocument, file: str
) -> Problem:
    missing = all(item["type"] == "missing" for item in items)
    hint: str | None
    location = document.locate(path[:-1] if missing else path, prefer_key=missing)
    if missing:
        message = f"missing required field `{path[-1]}`"
        hint = f"add `{path[-1]}:` here"
        code = "missing"
    else:
        messages = list(dict.fromkeys(_message(item) for item in items))
        message = messages[0] if len(messages) == 1 else " or ".join(messages)
        hint = next((h for h in (_hint(item) for item in items) if h), None)
        code = items[0]["type"]
    return Problem(
        file=file,
        line=location.line,
        column=location.column,
        path=format_path(path),
        message=message,
        hint=hint,
        code=code,
    )


def _message(item: dict[str, Any]) -> str:
    message = str(item["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if item["type"] == "string_pattern_mismatch":
        return f"{item['input']!r} is not valid here"
    return message[:1].lower() + message[1:]


def _hint(item: dict[str, Any]) -> str | None:
    ctx = item.get("ctx") or {}
    if item["type"] == "string_pattern_mismatch":
        return "expected " + _PATTERN_HINTS.get(str(ctx.get("pattern")), "a valid value")
    return None


# ---------------------------------------------------------------- which keys a place allows


def _allowed_keys(path: Path) -> set[str]:
    """The field names (aliases) accepted by the models that can stand at `path`."""
    types_here: list[Any] = [protocol.Agent]
    for part in path:
        types_here = [child for t in types_here for child in _children(t, part)]
    keys: set[str] = set()
    for t in types_here:
        for model in _models_in(t):
            keys.update(_field_keys(model))
    return keys


def _children(annotation: Any, part: str | int) -> list[Any]:
    out: list[Any] = []
    for t in _unwrap(annotation):
        origin = get_origin(t)
        if isinstance(t, type) and issubclass(t, BaseModel) and isinstance(part, str):
            for name, info in t.model_fields.items():
                if part in (name, info.alias):
                    out.append(info.annotation)
        elif origin is list and isinstance(part, int):
            out.extend(get_args(t)[:1])
        elif origin is dict and isinstance(part, str):
            out.extend(get_args(t)[1:2])
    return out


def _unwrap(annotation: Any) -> list[Any]:
    if get_origin(annotation) is typing.Annotated:
        return _unwrap(get_args(annotation)[0])
    if get_origin(annotation) in (Union, types.UnionType):
        return [u for arg in get_args(annotation) for u in _unwrap(arg)]
    return [annotation]


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    return [t for t in _unwrap(annotation) if isinstance(t, type) and issubclass(t, BaseModel)]


def _field_keys(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}
