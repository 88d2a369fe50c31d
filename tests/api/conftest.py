"""Fixtures: a live API over an embedded Podium, agents on the demo model or the fake server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from podium.engine.runtime import set_runtime
from support.live_api import LiveApi, start_live_api
from support.podium_env import TOOLS_PY, agent_yaml


@pytest.fixture
def live(tmp_path: Path, fake_openai, monkeypatch) -> Iterator[LiveApi]:
    monkeypatch.setenv("OPENAI_API_BASE", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("PODIUM_DEMO_TOKEN_DELAY_MS", "0")
    monkeypatch.setenv("PODIUM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PODIUM_TEST_STATE", str(tmp_path / "state"))
    for name, body in {"talker": "on_conflict: reject\n",
                       "queuer": "on_conflict: enqueue\n"}.items():  # fmt: skip
        folder = tmp_path / "agents" / name
        folder.mkdir(parents=True)
        (folder / "agent.yaml").write_text(agent_yaml(name, body))
        (folder / "tools.py").write_text(TOOLS_PY)
    api = start_live_api(tmp_path)
    yield api
    api.stop()
    set_runtime(None)


@pytest.fixture
def http(live: LiveApi) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=live.url, headers=live.headers(), timeout=30) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
