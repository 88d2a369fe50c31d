"""Fixtures for the model layer's tests: agents pointed at the fake server, fast retries,
an event recorder, and a helper to run a coroutine on a fresh event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest

from podium.models._lean import close_client
from podium.models.client import RetryPolicy
from podium.protocol.agent import Agent
from podium.protocol.loader import load_agent

T = TypeVar("T")

REPO = Path(__file__).resolve().parents[3]
TEST_KEY = "sk-podium-test-0123456789abcdefSECRET"
PATHS = ["lean", "litellm"]
USER = [{"role": "user", "content": "What's the weather and time in Paris?"}]


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on a new event loop, closing the lean path's pooled client after it."""

    async def main() -> T:
        try:
            return await coro
        finally:
            await close_client()

    return asyncio.run(main())


@pytest.fixture(name="run")
def run_fixture() -> Callable[[Coroutine[Any, Any, Any]], Any]:
    """`run(coro)`: run a coroutine on a fresh event loop."""
    return run


@pytest.fixture(name="user_messages")
def user_messages_fixture() -> list[dict[str, Any]]:
    """The weather question, as a one-message conversation."""
    return [dict(message) for message in USER]


@pytest.fixture(name="test_key")
def test_key_fixture() -> str:
    """The fake provider key set as OPENAI_API_KEY for every test here."""
    return TEST_KEY


@pytest.fixture(autouse=True)
def _model_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """A known fake key, no demo pacing, the call path chosen by each request."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.setenv("PODIUM_DEMO_TOKEN_DELAY_MS", "0")
    for name in ("PODIUM_MODEL_CALL_PATH", "PODIUM_SECRETS_PREFIX", "PODIUM_SECRET_OPENAI"):
        monkeypatch.delenv(name, raising=False)
    for name in ("OPENAI_API_BASE", "OPENAI_BASE_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def fast_retry() -> RetryPolicy:
    """Podium's retry policy with every wait shrunk a hundredfold."""
    return RetryPolicy(time_scale=0.01, jitter=0.0)


@pytest.fixture(params=PATHS)
def path(request: pytest.FixtureRequest) -> str:
    """Each test of the real HTTP path runs on the lean path and on litellm's."""
    return str(request.param)


class Events(list[Any]):
    """Records stream events; `types` lists their `type` fields."""

    @property
    def types(self) -> list[str]:
        return [event.type for event in self]

    def of(self, kind: str) -> list[Any]:
        return [event for event in self if event.type == kind]


@pytest.fixture
def events() -> Events:
    return Events()


@pytest.fixture
def make_agent(fake_openai: Any) -> Callable[..., Agent]:
    """An agent whose aliases `primary`, `backup`, `cheap` are models on the fake server."""

    def make(**overrides: Any) -> Agent:
        data: dict[str, Any] = {
            "name": "tester",
            "models": {
                "primary": {"model": "openai/primary-model", "api_base": fake_openai.base_url},
                "backup": {"model": "openai/backup-model", "api_base": fake_openai.base_url},
                "cheap": {"model": "openai/gpt-4.1-mini", "api_base": fake_openai.base_url},
            },
            "model": "primary",
        }
        data.update(overrides)
        return Agent.model_validate(data)

    return make


@pytest.fixture(scope="session")
def weather_agent() -> Agent:
    return load_agent(REPO / "agents" / "weather").agent


@pytest.fixture(scope="session")
def support_agent() -> Agent:
    return load_agent(REPO / "agents" / "support").agent
