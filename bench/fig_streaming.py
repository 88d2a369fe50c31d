"""Figure 3 — streaming latency: from the fake server writing a text chunk to the client
receiving it, through Podium's HTTP API (SSE) and through a direct litellm stream.

The fake server (`stamped_fake.py`: the usual one, its chunk writes time-stamped with the
system-wide monotonic clock) paces the answer at 20 ms per chunk, so each chunk travels
alone. Podium: `podium dev` in its own process; the client posts the run with
`Accept: text/event-stream` and stamps each `text-delta` on arrival — the path is fake
server → Podium's model step → event log (SQLite) → bus → SSE route → client. litellm:
`litellm.acompletion(stream=True)` asked the same answer, chunks stamped on arrival. The
k-th text chunk written is matched with the k-th received; turns alternate between the two.

    python bench/fig_streaming.py [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import check, emit, heading, median, percentile, table
from workload import (
    API_KEY,
    BENCH,
    MODEL,
    QUESTION,
    SYSTEM_PROMPT,
    TOOL_SCHEMAS,
    quiet_environment,
)

CHUNK_MS = 20.0


def start_stamped(stamps: Path) -> tuple[subprocess.Popen[str], str]:
    command = [
        sys.executable,
        str(BENCH / "stamped_fake.py"),
        "--stamps",
        str(stamps),
        "--port",
        "0",
        "--workload",
        "weather-bench",
        "--chunk-ms",
        str(CHUNK_MS),
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, process.stdout.readline().strip() + "/v1"


def last_stamps(stamps: Path) -> list[float]:
    lines = stamps.read_text().splitlines()
    return list(json.loads(lines[-1])["times"]) if lines else []


def answer_messages() -> list[dict[str, Any]]:
    """The conversation at the answer step (the tool results in), as litellm sends it."""
    calls = [
        {
            "id": f"call_{i}",
            "type": "function",
            "function": {"name": t["function"]["name"], "arguments": args},
        }
        for i, (t, args) in enumerate(
            zip(TOOL_SCHEMAS, ('{"city": "Paris"}', '{"timezone": "Europe/Paris"}'), strict=True)
        )
    ]
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_0", "content": '{"city": "Paris"}'},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"timezone": "Europe/Paris"}'},
    ]


async def litellm_turn(base_url: str) -> list[float]:
    import litellm

    received = []
    response = await litellm.acompletion(
        model=f"openai/{MODEL}",
        messages=answer_messages(),
        api_base=base_url,
        api_key=API_KEY,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in response:
        if chunk.choices and chunk.choices[0].delta.content:
            received.append(time.monotonic())
    return received


async def podium_turn(client: Any) -> list[float]:
    session = (await client.post("/sessions", json={"agent": "bench"})).json()["session_id"]
    received = []
    async with client.stream(
        "POST",
        f"/sessions/{session}/runs",
        json={"input": QUESTION},
        headers={"accept": "text/event-stream"},
    ) as response:
        async for line in response.aiter_lines():
            if line.startswith('data: {"type":"text-delta"'):
                received.append(time.monotonic())
            elif line.startswith('data: {"type":"finish"'):
                break
    return received


async def measure(base_url: str, stamps: Path, workdir: Path, turns: int) -> dict[str, list[float]]:
    import httpx
    from contenders.podium_api import start_dev_server

    with (workdir / "podium-dev.log").open("w") as log:
        server, url, key = start_dev_server(base_url, workdir, log)
    delays: dict[str, list[float]] = {"litellm": [], "podium": []}
    skipped = 0
    try:
        async with httpx.AsyncClient(
            base_url=url, timeout=60, headers={"authorization": f"Bearer {key}"}
        ) as client:
            for warm in range(turns + 2):
                for name in ("litellm", "podium"):
                    got = await (
                        litellm_turn(base_url) if name == "litellm" else podium_turn(client)
                    )
                    written = last_stamps(stamps)
                    if warm < 2:
                        continue
                    if len(got) != len(written) or not got:
                        skipped += 1
                        continue
                    delays[name].extend((r - w) * 1000 for r, w in zip(got, written, strict=True))
    finally:
        server.terminate()
        server.wait(timeout=10)
    if skipped:
        print(f"({skipped} turns skipped: chunks received ≠ chunks written)")
    return delays


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    quiet_environment()
    from contenders.podium_api import available

    if not available():
        heading("Figure 3 — streaming latency")
        print("pending: Podium's HTTP API (podium.api) is not available in this checkout")
        emit("sse_latency", status="pending")
        check("sse_latency", "SSE p50 over direct litellm stream, ms", None, 5.0, None)
        return 0
    turns = 5 if args.quick else 40
    with tempfile.TemporaryDirectory() as tmp:
        stamps = Path(tmp) / "stamps.jsonl"
        server, base_url = start_stamped(stamps)
        try:
            delays = asyncio.run(measure(base_url, stamps, Path(tmp), turns))
        finally:
            server.terminate()
            server.wait(timeout=10)
    heading(
        f"Figure 3 — chunk written by the fake server → received by the client "
        f"({turns} turns each, {CHUNK_MS:g} ms between chunks)"
    )
    rows = [
        [
            "direct litellm stream",
            len(delays["litellm"]),
            median(delays["litellm"]),
            percentile(delays["litellm"], 95),
            0.0,
        ],
        [
            "Podium HTTP API (SSE)",
            len(delays["podium"]),
            median(delays["podium"]),
            percentile(delays["podium"], 95),
            median(delays["podium"]) - median(delays["litellm"]),
        ],
    ]
    print(table(["path", "chunks", "p50 ms", "p95 ms", "p50 over litellm"], rows))
    for name, values in delays.items():
        emit(
            "sse_latency",
            path=name,
            chunks=len(values),
            p50_ms=median(values),
            p95_ms=percentile(values, 95),
        )
    over = median(delays["podium"]) - median(delays["litellm"])
    check("sse_latency", "SSE p50 over direct litellm stream, ms", over, 5.0, over <= 5.0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
