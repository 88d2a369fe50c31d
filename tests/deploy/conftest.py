"""Fixtures for the deployment tests: the template as data, the infra scripts as modules, real
Lambda events, and the AWS services under moto."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROOT = Path(__file__).parents[2]
EVENTS = Path(__file__).parent / "events"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def load_infra(name: str) -> ModuleType:
    """A script of infra/ as a module (they are run as scripts, not installed)."""
    module_name = f"podium_infra_{name}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "infra" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def package() -> ModuleType:
    return load_infra("package")


@pytest.fixture(scope="session")
def validate() -> ModuleType:
    return load_infra("validate")


@pytest.fixture(scope="session")
def template(package: ModuleType) -> dict[str, Any]:
    """template.yaml as data, intrinsic functions in their long form (`{"Ref": ...}`)."""
    return package.load_template(ROOT / "template.yaml")


@pytest.fixture
def event() -> Callable[[str], dict[str, Any]]:
    """A real Lambda event from tests/deploy/events/<name>.json (a fresh copy each call)."""

    def load(name: str) -> dict[str, Any]:
        return dict(json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8")))

    return load


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mocked_aws(aws_env: None) -> Iterator[None]:
    from moto import mock_aws

    with mock_aws():
        yield


@pytest.fixture(scope="session")
def tools(validate: ModuleType) -> None:
    """The validation tools' environment (.venv-tools): `make test` installs it first. A test
    that cannot run fails, it never skips."""
    if not validate.tools_installed():
        pytest.fail("the validation tools are missing: run `make validate-deploy` first")


@pytest.fixture
def template_copy(tmp_path: Path) -> Callable[..., Path]:
    """A copy of template.yaml with edits, next to links to the code it points at (relative
    paths resolve as for the real one): `template_copy((old, new), ...)`."""

    def make(*edits: tuple[str, str]) -> Path:
        text = (ROOT / "template.yaml").read_text(encoding="utf-8")
        for old, new in edits:
            assert old in text, f"the template no longer contains {old!r}"
            text = text.replace(old, new, 1)
        folder = tmp_path / "stack"
        folder.mkdir(exist_ok=True)
        for name in ("functions", "layers", "agents", "statemachines", "requirements", "infra"):
            link = folder / name
            if not link.exists():
                link.symlink_to(ROOT / name)
        copy = folder / "template.yaml"
        copy.write_text(text, encoding="utf-8")
        return copy

    return make
