"""What one model call costs on each path, over a raw httpx loop, against the fake server.

Variants, each calling the same fake OpenAI server (its own process, no latency) with the
same conversation, non-streaming and streaming 20 text chunks with usage:

- `raw httpx`: one shared `httpx.AsyncClient`, JSON in, JSON (or SSE lines) out — the floor.
- `litellm bare`: `litellm.acompletion` with litellm's default module settings.
- `litellm podium-settings`: `litellm.acompletion` with Podium's `LEAN_SETTINGS`.
- `podium litellm`: `podium.models.call_model(path="litellm")` (events, usage, cost).
- `podium lean`: `podium.models.call_model(path="lean")`, the default for OpenAI-wire models.

Rounds interleave the variants so drift hits all of them alike; each round makes `--calls`
calls per variant. Prints the median per call, the overhead over raw httpx, and one JSON line
per variant.

    python bench/model_call_path.py [--rounds 15] [--calls 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.update({"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"})

KEY = "sk-bench-0123456789abcdef"
WORDS = 20
MESSAGES = [
    {"role": "system", "content": "You are a concise assistant."},
    {"role": "user", "content": " ".join(f"word{i}" for i in range(WORDS))},
]
MODEL = "openai/gpt-4.1-mini"

Call = Callable[[bool], Awaitable[Any]]


def start_server() -> tuple[subprocess.Popen[str], str]:
    command = [sys.executable, "-m", "podium.testing.fake_openai", "--port", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip() + "/v1"


def variants(base: str) -> dict[str, Call]:
    import httpx
    import litellm

    from podium.models import ModelRequest, call_model
    from podium.models._litellm import LEAN_SETTINGS, ensure_litellm

    ensure_litellm()
    defaults = {name: getattr(litellm, name) for name in LEAN_SETTINGS}
    defaults.update(suppress_debug_info=False, telemetry=True)
    defaults.update(turn_off_message_logging=False, drop_params=False)
    client = httpx.AsyncClient()
    headers = {"authorization": f"Bearer {KEY}", "content-type": "application/json"}

    async def raw(stream: bool) -> Any:
        body: dict[str, Any] = {"model": "gpt-4.1-mini", "messages": MESSAGES}
        if not stream:
            response = await client.post(f"{base}/chat/completions", json=body, headers=headers)
            return response.json()["choices"][0]["message"]["content"]
        body.update(stream=True, stream_options={"include_usage": True})
        text = []
        async with client.stream(
            "POST", f"{base}/chat/completions", json=body, headers=headers
        ) as response:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    chunk = json.loads(line[6:])
                    for choice in chunk["choices"]:
                        text.append(choice["delta"].get("content") or "")
        return "".join(text)

    def litellm_call(settings: dict[str, Any]) -> Call:
        async def call(stream: bool) -> Any:
            for name, value in settings.items():
                setattr(litellm, name, value)
            kwargs: dict[str, Any] = {"stream_options": {"include_usage": True}} if stream else {}
            response = await litellm.acompletion(
                model=MODEL,
                messages=MESSAGES,
                api_base=base,
                api_key=KEY,
                stream=stream,
                num_retries=0,
                max_retries=0,
                **kwargs,
            )
            if not stream:
                return response.choices[0].message.content
            return "".join([c.choices[0].delta.content or "" async for c in response if c.choices])

        return call

    def podium_call(path: str) -> Call:
        async def call(stream: bool) -> Any:
            for name, value in LEAN_SETTINGS.items():
                setattr(litellm, name, value)
            request = ModelRequest(
                model=MODEL,
                messages=MESSAGES,
                api_base=base,
                path="lean" if path == "lean" else "litellm",
            )
            return (await call_model(request, stream=stream)).text

        return call

    return {
        "raw httpx": raw,
        "litellm bare": litellm_call(defaults),
        "litellm podium-settings": litellm_call(dict(LEAN_SETTINGS)),
        "podium litellm": podium_call("litellm"),
        "podium lean": podium_call("lean"),
    }


async def measure(calls: dict[str, Call], rounds: int, per_round: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {f"{n} {m}": [] for n in calls for m in ("json", "stream")}
    for stream in (False, True):  # warm-up: imports, connections, caches
        for call in calls.values():
            for _ in range(5):
                await call(stream)
    for _ in range(rounds):
        for stream in (False, True):
            mode = "stream" if stream else "json"
            for name, call in calls.items():
                for _ in range(per_round):
                    start = time.perf_counter()
                    await call(stream)
                    times[f"{name} {mode}"].append((time.perf_counter() - start) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--calls", type=int, default=20)
    args = parser.parse_args()
    process, base = start_server()
    os.environ["OPENAI_API_KEY"] = KEY
    try:
        calls = variants(base)
        times = asyncio.run(measure(calls, args.rounds, args.calls))
    finally:
        process.terminate()
        process.wait(timeout=10)
    print(f"{'variant':<34}{'median ms':>10}{'over raw':>10}{'ratio':>8}")
    for mode in ("json", "stream"):
        floor = statistics.median(times[f"raw httpx {mode}"])
        for name in calls:
            median = statistics.median(times[f"{name} {mode}"])
            label = f"{name} {mode}"
            print(f"{label:<34}{median:>10.3f}{median - floor:>+10.3f}{median / floor:>8.2f}")
    for label, samples in times.items():
        print(json.dumps({"variant": label, "median_ms": round(statistics.median(samples), 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
