"""Helpers for API tests: the demo inputs, an SSE body parser, waiting for a run."""

from __future__ import annotations

import json
import time

import httpx

WEATHER = "What's the weather and time in Paris?"
REFUND = "Please refund 19.99 on order AB-1234, it arrived damaged"


def sse(text: str) -> list[tuple[str | None, dict]]:
    events, event_id = [], None
    for block in text.split("\n\n"):
        data = None
        for line in block.splitlines():
            if line.startswith("id: "):
                event_id = line[4:]
            elif line.startswith("data: ") and line != "data: [DONE]":
                data = json.loads(line[6:])
        if data is not None:
            events.append((event_id, data))
    return events


def wait_run(http: httpx.Client, session: str, run_id: str, status: str | None = None) -> dict:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        run = http.get(f"/sessions/{session}/runs/{run_id}").json()
        if (status and run["status"] == status) or (
            not status and run["status"] in {"succeeded", "failed", "cancelled"}
        ):
            return run
        time.sleep(0.05)
    raise TimeoutError(run["status"])
