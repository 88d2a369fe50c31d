"""The one agent every contender runs, and the fake server they all call.

The user asks about Paris; the model (the fake OpenAI server's `weather-bench` workload)
asks for `get_weather` and `get_time` at once; both tools answer; the model answers from
their results (20 chunks when streamed). The prompt, the tools' schemas and their code are
the same for every contender. This module imports nothing outside the standard library, so
every benchmark environment can use it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent

MODEL = "gpt-4o-mini"
"""The model name sent to the fake server (litellm and Podium say `openai/gpt-4o-mini`)."""
API_KEY = "sk-bench-0123456789abcdef"
SYSTEM_PROMPT = "You are a concise weather assistant. Call get_weather and get_time together."
QUESTION = "What's the weather and time in Paris?"
ANSWER_MARK = "Tool result 2"
"""Every correct final answer contains this (the fake server quotes both tool results)."""

TOOL_SCHEMAS: list[dict[str, Any]] = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string", "description": "City name"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "get_time",
            "description": "Current local time in an IANA time zone.",
            "parameters": {
                "type": "object",
                "properties": {"timezone": {"type": "string", "description": "IANA zone"}},
                "required": ["timezone"],
            },
        },
    },
]


def get_weather(city: str) -> dict[str, Any]:
    """Current weather for a city."""
    return {"city": city, "temperature_c": 21, "conditions": "sunny"}


def get_time(timezone: str) -> dict[str, Any]:
    """Current local time in an IANA time zone."""
    return {"timezone": timezone, "local_time": "12:00"}


TOOLS = {"get_weather": get_weather, "get_time": get_time}

LATENCY_VARIANTS: dict[str, tuple[float, float]] = {
    "zero": (0.0, 0.0),
    "ttft200": (200.0, 20.0),
}
"""Fake server latency variants: (time to first token ms, ms per chunk)."""


@contextmanager
def fake_server(python: str, ttft_ms: float = 0.0, chunk_ms: float = 0.0) -> Iterator[str]:
    """The fake OpenAI server in its own process; yields its base URL (`…/v1`)."""
    command = [
        python,
        "-m",
        "podium.testing.fake_openai",
        "--port",
        "0",
        "--workload",
        "weather-bench",
        "--ttft-ms",
        str(ttft_ms),
        "--chunk-ms",
        str(chunk_ms),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the fake OpenAI server did not start")
        yield url + "/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def quiet_environment() -> None:
    """What every contender process sets before importing anything: no network, no
    telemetry, litellm's price map from the package."""
    os.environ.update(
        {
            "LITELLM_LOCAL_MODEL_COST_MAP": "True",
            "LITELLM_OFFLINE_MODE": "true",
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_AGENTS_DISABLE_TRACING": "1",
            "LANGSMITH_TRACING": "false",
            "LANGCHAIN_TRACING_V2": "false",
            "OTEL_SDK_DISABLED": "true",
            "STRANDS_OTEL_ENABLE_CONSOLE_EXPORT": "false",
            "ANONYMIZED_TELEMETRY": "false",
            "DO_NOT_TRACK": "1",
        }
    )


def now_ms() -> float:
    return time.perf_counter() * 1000


def python_of(env: str) -> str:
    """The interpreter of a benchmark environment (`main` or `strands`), else this one."""
    candidate = BENCH / ".venv" / env / "bin" / "python"
    return str(candidate) if candidate.exists() else sys.executable
