"""Root fixtures: no test reaches the network; `fake_openai` is a real local OpenAI server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from podium.settings import LITELLM_OFFLINE_ENV

# Before anything imports litellm: never fetch the price map over the network.
os.environ.update(LITELLM_OFFLINE_ENV)

if TYPE_CHECKING:
    from podium.testing.fake_openai import FakeOpenAI


@pytest.fixture(scope="session", autouse=True)
def _no_network() -> Iterator[None]:
    """Any connection to a non-loopback host fails, naming the host."""
    from podium.testing.network_guard import install_network_guard

    uninstall = install_network_guard()
    yield
    uninstall()


@pytest.fixture(scope="session")
def _fake_openai_server() -> Iterator[FakeOpenAI]:
    from podium.testing.fake_openai import FakeOpenAI

    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def fake_openai(_fake_openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """A started fake OpenAI server (one per session), reset before and after each test."""
    _fake_openai_server.reset()
    yield _fake_openai_server
    _fake_openai_server.reset()
