"""Fixtures for the web UI's browser tests: a live API (demo model, visible streaming) with
the UI router, headless Chromium, and a folder for screenshots (`test-artifacts/ui/`)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from podium.api.auth import create_key
from podium.engine.runtime import set_runtime
from support.browser import chromium
from support.live_api import LiveApi, start_live_api

ARTIFACTS = Path(__file__).parents[2] / "test-artifacts" / "ui"
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def live_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveApi]:
    """One server for the module: the demo model streams a token every few milliseconds."""
    tmp_path = tmp_path_factory.mktemp("ui")
    patch = pytest.MonkeyPatch()
    patch.setenv("PODIUM_DEMO_TOKEN_DELAY_MS", "15")
    patch.setenv("PODIUM_HOME", str(tmp_path / "home"))
    api = start_live_api(tmp_path)
    yield api
    api.stop()
    set_runtime(None)
    patch.undo()


@pytest.fixture
def ui_key(live_ui: LiveApi) -> str:
    """A key of a tenant of its own: a test sees only the sessions it made, whatever ran
    before it on the module's server."""
    key, _ = create_key(
        live_ui.podium.store, f"ui-{secrets.token_hex(4)}", scopes=["runs", "sessions:read"]
    )
    return key


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Any, request: pytest.FixtureRequest, artifacts: Path) -> Iterator[Any]:
    """A fresh context (empty sessionStorage) at 1280×800; a failed test leaves a screenshot."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    if request.node.stash.get(FAILED, False):
        page.screenshot(path=str(artifacts / f"FAILED-{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
