"""Podium in-process: the local runner (Podium's own executor running the compiled state
machine) with the SQLite store, as `podium run` and `podium dev` use it.

A turn is `RunService.start_run` until the run's `finish` event (streaming: the consumer
follows the durable event log, woken by `podium.engine.eventlog.BUS`, as the local SSE route
does) or until the execution has ended (non-streaming: `executor.wait`, then the run's
output is read). Podium always streams from the provider; both modes do the same model calls.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from workload import API_KEY, BENCH, MODEL, SYSTEM_PROMPT, TOOL_SCHEMAS

from contenders.base import BaseContender, TurnResult

TENANT = "bench"
AGENT = "bench"


def write_agent(agents_dir: Path, name: str = AGENT) -> Path:
    """The benchmark agent as an agent folder (JSON is YAML): the same prompt and tools as
    every peer."""
    folder = agents_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    tools = [
        {
            "name": s["function"]["name"],
            "description": s["function"]["description"],
            "parameters": s["function"]["parameters"],
            "python": f"tools:{s['function']['name']}",
        }
        for s in TOOL_SCHEMAS
    ]
    agent = {
        "name": name,
        "model": f"openai/{MODEL}",
        "system": SYSTEM_PROMPT,
        "limits": {"max_steps": 6, "max_parallel_tools": 2},
        "tools": tools,
    }
    (folder / "agent.yaml").write_text(json.dumps(agent, indent=2))
    (folder / "tools.py").write_text(
        f"import sys\nsys.path.insert(0, {str(BENCH)!r})\n"
        "from workload import get_time, get_weather  # noqa: E402\n"
    )
    return folder


class ReadCounter:
    """Counts the store's reads (calls, and items returned) by wrapping its read methods."""

    READS = (
        "get_session",
        "list_messages",
        "get_messages",
        "get_summary",
        "get_run",
        "list_runs",
        "list_events",
        "list_spans",
        "get_agent_version",
        "get_checkpoint",
    )

    def __init__(self, store: Any) -> None:
        self.calls: Counter[str] = Counter()
        self.items: Counter[str] = Counter()
        self._lock = threading.Lock()
        for name in self.READS:
            self._wrap(store, name)

    def _wrap(self, store: Any, name: str) -> None:
        original = getattr(store, name)

        def read(*args: Any, **kwargs: Any) -> Any:
            result = original(*args, **kwargs)
            items = getattr(result, "items", result)
            count = len(items) if isinstance(items, list) else int(result is not None)
            with self._lock:
                self.calls[name] += 1
                self.items[name] += count
            return result

        setattr(store, name, read)

    def snapshot(self) -> tuple[int, int, int]:
        """(read calls, items read, messages read)."""
        with self._lock:
            messages = self.items["list_messages"] + self.items["get_messages"]
            return sum(self.calls.values()), sum(self.items.values()), messages


class PodiumLocal(BaseContender):
    name = "Podium in-process (local runner + SQLite)"

    def __init__(self, base_url: str, workdir: Path, count_reads: bool = False) -> None:
        os.environ["OPENAI_API_BASE"] = base_url
        os.environ["OPENAI_API_KEY"] = API_KEY
        from podium.engine.agents import AgentRegistry
        from podium.engine.eventlog import BUS
        from podium.engine.local import LocalRunner
        from podium.engine.runs import RunService
        from podium.engine.runtime import Runtime
        from podium.store.sqlite import SqliteStore

        write_agent(workdir / "agents")
        self.store = SqliteStore(workdir / "podium" / "podium.db")
        self.reads = ReadCounter(self.store) if count_reads else None
        self.runtime = Runtime(
            store=self.store, agents=AgentRegistry(self.store, workdir / "agents")
        )
        self.runner = LocalRunner(self.runtime)
        self.runner.start()
        self.service = RunService(self.runtime)
        self.bus = BUS
        self._last_run: str | None = None

    async def new_session(self) -> Any:
        return self.service.create_session(TENANT, AGENT).session_id

    async def turn(self, session: Any, stream: bool) -> TurnResult:
        return self.turn_sync(session, stream)

    def turn_sync(self, session: str, stream: bool) -> TurnResult:
        if not stream:
            run_id = self.service.start_run(TENANT, session, _question()).run.run_id
            self.runner.executor.wait(run_id, timeout=60)
            run = self.store.get_run(TENANT, session, run_id)
            if run.status != "succeeded":
                raise RuntimeError(f"run {run.status}: {run.error}")
            return TurnResult(str((run.output or {}).get("text", "")))
        woken = threading.Event()
        unsubscribe = self.bus.subscribe(TENANT, session, lambda _t, _s: woken.set())
        try:
            run_id = self.service.start_run(TENANT, session, _question()).run.run_id
            self._last_run = run_id
            after: str | None = None
            text: list[str] = []
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                woken.wait(1.0)
                woken.clear()
                events = self.store.list_events(
                    TENANT, session, after=after, run_id=run_id, limit=1000
                )
                for event in events:
                    after = event.event_id
                    if event.type == "text-delta":
                        text.append(str(event.data.get("delta", "")))
                    elif event.type == "finish":
                        done = time.perf_counter()
                        if event.data.get("finishReason", "stop") != "stop":
                            raise RuntimeError(f"run ended: {event.data}")
                        self.runner.executor.wait(run_id, timeout=60)
                        return TurnResult("".join(text), done_at=done, deltas=len(text))
            raise TimeoutError("no finish event within 60 s")
        finally:
            unsubscribe()

    async def close(self) -> None:
        self.runner.stop()
        self.store.close()


def _question() -> str:
    from workload import QUESTION

    return QUESTION
