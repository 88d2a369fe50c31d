"""The suite's own rules, checked on its source: no test is skipped or expected to fail (a test
that cannot run must fail), and none measures time to pass (benchmarks do that)."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent
SKIPPING = {"skip", "skipif", "xfail", "importorskip"}


def _test_sources() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "node_modules" not in p.parts)


def test_no_test_is_skipped_or_expected_to_fail():
    found = []
    for path in _test_sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Attribute) and node.attr in SKIPPING:
                found.append(f"{path.relative_to(TESTS)}:{node.lineno}: {node.attr}")
    assert found == [], "skips are not allowed in tests/:\n" + "\n".join(found)
