"""An embedded Podium for tests: SQLite store, local runner, agents written per test that
call the fake OpenAI server."""

from __future__ import annotations

import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podium.engine.agents import AgentRegistry
from podium.engine.local import LocalRunner
from podium.engine.runs import RunService
from podium.engine.runtime import Runtime
from podium.models.client import RetryPolicy
from podium.store.base import Store
from podium.store.models import Run
from podium.store.sqlite import SqliteStore

TENANT = "acme"

TOOLS_PY = """
import json, os, time
from pathlib import Path

STATE = Path(os.environ["PODIUM_TEST_STATE"])

def _count(name):
    STATE.mkdir(parents=True, exist_ok=True)
    file = STATE / name
    n = int(file.read_text()) + 1 if file.exists() else 1
    file.write_text(str(n))
    return n

class WeatherServiceError(Exception):
    pass

def get_weather(city):
    return {"city": city, "temperature_c": 21}

def get_time(timezone):
    return {"timezone": timezone, "local_time": "12:00"}

def flaky(x=0):
    if _count("flaky") <= 2:
        raise WeatherServiceError("try again")
    return {"ok": True, "attempts": _count("flaky") - 1}

def broken(x=0):
    raise RuntimeError("the backend is down")

def slow(x=0):
    marker = STATE / "slow-done"
    _count("slow")
    if not marker.exists():
        time.sleep(float(os.environ.get("PODIUM_TEST_SLOW_S", "3")))
    return {"slow": "done"}

def huge(x=0):
    return "x" * (5 * 1024 * 1024)

def refund(order_id, amount_usd):
    return {"refunded": amount_usd, "order_id": order_id}

def decline(card):
    raise ValueError(f"card {card} was declined")
"""


def wait_for_run(
    store: Store, session: str, run_id: str, timeout: float = 30, *, tenant: str = TENANT
) -> Run:
    """The run once it has ended and its final `finish` event is in the log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = store.get_run(tenant, session, run_id)
        if run.terminal:
            events = store.list_events(tenant, session, run_id=run_id, limit=1000)
            if events and events[-1].type == "finish":
                return run
        time.sleep(0.02)
    raise TimeoutError(f"run {run_id} did not end: {run.status}")


def agent_yaml(name: str, body: str) -> str:
    """An agent file; the model defaults to openai/gpt-4o-mini (the fake server)."""
    body = textwrap.dedent(body)
    has_model = body.startswith("model:") or "\nmodel:" in body
    return f"name: {name}\n" + ("" if has_model else "model: openai/gpt-4o-mini\n") + body


TOOL = """
  - name: {name}
    description: {name} tool.
    parameters: {{type: object, properties: {props}}}
    python: tools:{name}
"""


@dataclass
class Podium:
    """The embedded runtime under test."""

    runtime: Runtime
    runner: LocalRunner
    service: RunService
    store: SqliteStore
    agents_dir: Path

    def session(self, agent: str, **variables: Any) -> str:
        return self.service.create_session(TENANT, agent, variables=variables).session_id

    def run(self, agent: str, text: str, *, session: str | None = None) -> Run:
        """Start a run and wait for it to end."""
        session = session or self.session(agent)
        started = self.service.start_run(TENANT, session, text)
        return self.wait(session, started.run.run_id)

    def wait(self, session: str, run_id: str, timeout: float = 30) -> Run:
        """The run once it has ended and its final `finish` event is in the log."""
        return wait_for_run(self.store, session, run_id, timeout)

    def wait_for_event(self, session: str, run_id: str, kind: str, timeout: float = 15) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.store.list_events(TENANT, session, run_id=run_id, limit=1000):
                if event.type == kind:
                    return event.data
            time.sleep(0.02)
        raise TimeoutError(f"no {kind} event")

    def events(self, session: str, run_id: str | None = None) -> list[dict]:
        return [e.data for e in self.store.list_events(TENANT, session, run_id=run_id, limit=1000)]

    def messages(self, session: str) -> list[Any]:
        return self.store.list_messages(TENANT, session, limit=500).items


class SkewClock:
    """Wall-clock time plus an offset a test moves forward: waits still take real time, and
    a test can jump past an hour-long lease in an instant."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds


def make_podium(
    tmp_path: Path,
    *,
    lease_s: float = 15.0,
    owner: str | None = None,
    clock: Callable[[], float] = time.time,
) -> Podium:
    store = SqliteStore(tmp_path / "home" / "podium.db", clock=clock)
    runtime = Runtime(
        store=store,
        agents=AgentRegistry(store, tmp_path / "agents"),
        model_retry=RetryPolicy(time_scale=0.01),
        cancel_poll_s=0.1,
        clock=clock,
    )
    runner = LocalRunner(runtime, retry_sleep_scale=0.01, lease_s=lease_s, owner=owner)
    runner.start()
    return Podium(runtime, runner, RunService(runtime), store, tmp_path / "agents")
