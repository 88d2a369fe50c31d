"""The built-in demo model, `podium/demo` (any `podium/demo*` name): a stand-in for a real one.

Deterministic, needs no key, and behaves like a provider so the whole system runs offline:

- Given a user message, it calls the agent's tools whose name matches a word of the message
  (`get_weather` for "weather", `get_time` for "time"), all in parallel. Arguments come from
  the parameter schema: a `pattern` searched in the message, an `enum` value named in it, a
  capitalised place after "in"/"for"/"at" for a city-like parameter, the city's time zone
  for a time-zone parameter, a number in the message for a numeric one, else the schema's
  `default` or first of `examples`.
- After tool results, it answers from them ("get_weather: city Paris, temperature c 17, …").
- Otherwise it answers in one sentence that it is the demo model and echoes the question.
- With an output schema, it answers with JSON built from the schema.

It streams a word at a time and reports usage at ~4 characters a token. `demo_reply` is the
pure logic; the lean path streams it in-process and `podium.models._litellm` registers it as
a litellm custom provider, so `litellm.acompletion(model="podium/demo")` works too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podium.models.tokens import estimate_text_tokens, estimate_tokens

__all__ = ["DemoReply", "demo_reply", "split_tokens"]

_WORD = re.compile(r"[A-Za-z][A-Za-z]+")
_TOKENS = re.compile(r"\S+\s*|\s+")
_PLACE = re.compile(r"\b(?:in|for|at|near)\s+((?:[A-Z][\w'-]+)(?:\s+[A-Z][\w'-]+)*)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?")
_GENERIC_WORDS = frozenset(
    {
        "get", "set", "list", "lookup", "look", "fetch", "find", "search", "issue", "create",
        "update", "delete", "do", "run", "call", "make", "current", "the", "a", "an", "of",
        "by", "for", "to", "up", "check", "read", "write", "tool",
    }
)  # fmt: skip
_PLACE_PARAMS = frozenset({"city", "location", "place", "town", "destination", "where"})
_ZONE_PARAMS = frozenset({"timezone", "time_zone", "tz", "zone"})
_ZONES = {
    "paris": "Europe/Paris",
    "london": "Europe/London",
    "berlin": "Europe/Berlin",
    "madrid": "Europe/Madrid",
    "rome": "Europe/Rome",
    "amsterdam": "Europe/Amsterdam",
    "new york": "America/New_York",
    "chicago": "America/Chicago",
    "los angeles": "America/Los_Angeles",
    "san francisco": "America/Los_Angeles",
    "tokyo": "Asia/Tokyo",
    "sydney": "Australia/Sydney",
    "singapore": "Asia/Singapore",
}


@dataclass(frozen=True, slots=True)
class DemoReply:
    """What the demo model answers: text or tool calls, with the usage it reports."""

    text: str
    tool_calls: tuple[tuple[str, str, str], ...]
    """(id, name, arguments JSON) for each call, in order."""
    prompt_tokens: int
    completion_tokens: int

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_calls else "stop"


def split_tokens(text: str) -> list[str]:
    """The streamed pieces of a text: a word (with its trailing space) each."""
    return _TOKENS.findall(text)


def _text(message: Mapping[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, Mapping))
    return ""


def _tool_name(tool: Mapping[str, Any]) -> str:
    function = tool.get("function")
    return str(function.get("name", "")) if isinstance(function, Mapping) else ""


def _tool_parameters(tool: Mapping[str, Any]) -> Mapping[str, Any]:
    function = tool.get("function")
    params = function.get("parameters") if isinstance(function, Mapping) else None
    return params if isinstance(params, Mapping) else {}


def _matches(name: str, words: set[str]) -> bool:
    parts = {p for p in re.split(r"[_\-]|(?<=[a-z])(?=[A-Z])", name.lower()) if p}
    parts -= _GENERIC_WORDS
    for part in parts:
        if part in words or f"{part}s" in words or (part.endswith("s") and part[:-1] in words):
            return True
    return False


def _place(message: str) -> str | None:
    match = _PLACE.search(message)
    return match.group(1) if match else None


def _schema_value(name: str, schema: Mapping[str, Any], message: str) -> tuple[Any, bool]:
    """(value, found in the message) for one parameter."""
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            found = re.search(pattern.strip("^$"), message)
        except re.error:
            found = None
        if found:
            return found.group(0), True
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        for option in enum:
            if isinstance(option, str) and option.lower() in message.lower():
                return option, True
    key = name.lower()
    place = _place(message)
    if key in _PLACE_PARAMS and place:
        return place, True
    if key in _ZONE_PARAMS and place and place.lower() in _ZONES:
        return _ZONES[place.lower()], True
    kind = schema.get("type")
    if kind in ("number", "integer"):
        number = _NUMBER.search(message)
        if number:
            value = float(number.group(0))
            return (int(value) if kind == "integer" else value), True
    return _fallback_value(schema), False


def _fallback_value(schema: Mapping[str, Any]) -> Any:
    if "default" in schema:
        return schema["default"]
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return examples[0]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return enum[0]
    kind = schema.get("type")
    defaults: dict[str, Any] = {
        "number": 0,
        "integer": 0,
        "boolean": False,
        "array": [],
        "object": {},
        "null": None,
    }
    return defaults.get(kind, "") if isinstance(kind, str) else ""


def build_object(schema: Mapping[str, Any], message: str, *, all_fields: bool) -> dict[str, Any]:
    """An object for an object schema: required properties always, others when the message
    names a value for them (or all of them with `all_fields`)."""
    properties = schema.get("properties")
    required = set(schema.get("required") or ())
    result: dict[str, Any] = {}
    if not isinstance(properties, Mapping):
        return result
    for name, prop in properties.items():
        schema_ = prop if isinstance(prop, Mapping) else {}
        if schema_.get("type") == "object" and isinstance(schema_.get("properties"), Mapping):
            value: Any = build_object(schema_, message, all_fields=all_fields)
            found = False
        else:
            value, found = _schema_value(str(name), schema_, message)
        if name in required or found or all_fields:
            result[str(name)] = value
    return result


def _render(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{str(k).replace('_', ' ')} {_render(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(_render(v) for v in value)
    return str(value)


def _answer_from_results(results: list[tuple[str, str]]) -> str:
    parts = []
    for name, content in results:
        try:
            value: Any = json.loads(content)
        except ValueError:
            value = content
        parts.append(f"{name}: {_render(value)}")
    return "Here is what I found. " + "; ".join(parts) + "."


def _pending_results(messages: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]] | None:
    """The tool results after the last assistant tool call, named by tool (None if the last
    message is not a tool result)."""
    if not messages or messages[-1].get("role") != "tool":
        return None
    names: dict[str, str] = {}
    results: list[tuple[str, str]] = []
    for message in reversed(messages):
        if message.get("role") == "tool":
            results.append((str(message.get("tool_call_id", "")), _text(message)))
            continue
        for call in message.get("tool_calls") or ():
            function = call.get("function") or {}
            names[str(call.get("id", ""))] = str(function.get("name", "tool"))
        break
    return [(names.get(call_id, "tool"), content) for call_id, content in reversed(results)]


def demo_reply(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] = (),
    output_schema: Mapping[str, Any] | None = None,
) -> DemoReply:
    """The demo model's deterministic answer to a conversation."""
    prompt_tokens = estimate_tokens(list(messages), list(tools))  # type: ignore[arg-type]
    results = _pending_results(messages)
    user = next((_text(m) for m in reversed(messages) if m.get("role") == "user"), "")
    calls: list[tuple[str, str, str]] = []
    if results is not None:
        text = _answer_from_results(results)
    else:
        words = {w.lower() for w in _WORD.findall(user)}
        step = sum(1 for m in messages if m.get("role") == "assistant")
        for tool in tools:
            name = _tool_name(tool)
            if name and _matches(name, words):
                arguments = build_object(_tool_parameters(tool), user, all_fields=False)
                call_id = f"call_demo_{step}_{len(calls)}"
                calls.append((call_id, name, json.dumps(arguments, ensure_ascii=False)))
        text = "" if calls else _plain_answer(user)
    if output_schema is not None and not calls:
        text = json.dumps(build_object(output_schema, user + " " + text, all_fields=True))
    completion = estimate_text_tokens(text) + sum(
        estimate_text_tokens(name) + estimate_text_tokens(args) for _, name, args in calls
    )
    return DemoReply(text, tuple(calls), prompt_tokens, completion)


def _plain_answer(user: str) -> str:
    question = " ".join(user.split())[:200] or "nothing"
    return (
        "I am Podium's demo model, a deterministic stand-in for a real one, so I cannot "
        f"really answer “{question}”. Set `model:` in agent.yaml to a real provider."
    )


def argument_pieces(arguments: str, size: int = 8) -> Iterator[str]:
    """A tool call's arguments in pieces of `size` characters, as providers stream them."""
    for start in range(0, len(arguments), size):
        yield arguments[start : start + size]
