"""Fixtures: an embedded Podium whose agents call the fake OpenAI server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.engine.runtime import set_runtime
from support.podium_env import TOOLS_PY, Podium, agent_yaml, make_podium


@pytest.fixture
def agents(tmp_path: Path):
    folder = tmp_path / "agents"

    def write(name: str, body: str) -> Path:
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "agent.yaml").write_text(agent_yaml(name, body))
        (folder / name / "tools.py").write_text(TOOLS_PY)
        return folder / name

    return write


@pytest.fixture
def podium(tmp_path: Path, fake_openai, monkeypatch, agents) -> Iterator[Any]:
    monkeypatch.setenv("OPENAI_API_BASE", fake_openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("PODIUM_TEST_STATE", str(tmp_path / "state"))
    made: list[Podium] = []

    def build(**options: Any) -> Podium:
        made.append(make_podium(tmp_path, **options))
        return made[-1]

    yield build
    for instance in made:
        instance.runner.stop()
    set_runtime(None)
