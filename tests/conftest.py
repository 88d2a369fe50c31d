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

_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """A test that cannot run must fail, never skip: a skip (or an expected failure) at run
    time fails the session, whatever raised it."""
    if report.skipped:
        _skipped.append(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    seed = getattr(config.option, "randomly_seed", None)
    if isinstance(seed, int):  # pytest-randomly shuffles the order: the seed replays it
        terminalreporter.write_line(f"random test order; replay it with --randomly-seed={seed}")
    if _skipped:
        terminalreporter.write_line(
            "skipped tests are failures here: " + ", ".join(_skipped), red=True
        )


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
