"""Built-in responders for benchmarks, selected by name (`--workload` on the command line).

`weather-bench` is the benchmark turn: the user asks, the model calls two tools in parallel
(`get_weather`, `get_time`), the tools answer, the model replies with text (20 chunks when
streamed). Deterministic apart from ids.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from podium.testing.script import Reply, Responder, Step, ToolCall, echo_responder, message_text

__all__ = ["WORKLOADS", "weather_bench"]

_CITIES: dict[str, str] = {
    "paris": "Europe/Paris",
    "london": "Europe/London",
    "berlin": "Europe/Berlin",
    "tokyo": "Asia/Tokyo",
    "new york": "America/New_York",
    "san francisco": "America/Los_Angeles",
    "sydney": "Australia/Sydney",
}
_DEFAULT_CITY = "Paris"
WEATHER_BENCH_ANSWER_CHUNKS = 20


def _city_in(text: str) -> str:
    lowered = text.lower()
    for city in _CITIES:
        if city in lowered:
            return city.title()
    return _DEFAULT_CITY


def weather_bench(request: dict[str, Any]) -> Step:
    """Two parallel tool calls for a user message; a text answer built from tool results."""
    messages = request.get("messages")
    if not isinstance(messages, list) or not messages:
        return Reply("Ask me about the weather.")
    last = messages[-1]
    if isinstance(last, Mapping) and last.get("role") == "tool":
        results: list[str] = []
        for message in reversed(messages):
            if not isinstance(message, Mapping) or message.get("role") != "tool":
                break
            results.append(message_text(message))
        results.reverse()
        text = "Here is what I found. " + " ".join(
            f"Tool result {i}: {result}." for i, result in enumerate(results, 1)
        )
        text += " Let me know if you need anything else."
        return Reply(text, chunks=WEATHER_BENCH_ANSWER_CHUNKS)
    text = message_text(last) if isinstance(last, Mapping) else ""
    city = _city_in(text)
    timezone = _CITIES[city.lower()]
    return Reply(
        tool_calls=[
            ToolCall("get_weather", {"city": city}),
            ToolCall("get_time", {"timezone": timezone}),
        ]
    )


WORKLOADS: dict[str, Responder] = {
    "echo": echo_responder,
    "weather-bench": weather_bench,
}
