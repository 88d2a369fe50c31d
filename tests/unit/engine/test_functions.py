"""Every function folder re-exports a handler the state machine (or a trigger) uses."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from podium.engine import handlers
from podium.protocol.compile import PODIUM_FUNCTIONS

ROOT = Path(__file__).parents[3]


def load(folder: Path):
    spec = importlib.util.spec_from_file_location(f"fn_{folder.name}", folder / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_engine_function_reexports_its_handler():
    folders = sorted(p for p in (ROOT / "functions").iterdir()
                     if (p / "app.py").is_file() and hasattr(handlers, p.name))  # fmt: skip
    assert len(folders) >= 8
    for folder in folders:
        assert load(folder).handler is getattr(handlers, folder.name)


def test_every_machine_function_has_a_folder():
    names = {path.rsplit(".", 1)[1] for path in PODIUM_FUNCTIONS.values()}
    assert names <= {p.name for p in (ROOT / "functions").iterdir()}
