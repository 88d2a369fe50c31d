"""The benchmark code runs (on a tiny workload); the figures themselves come from `make bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench"


def test_import_time_benchmark_runs():
    done = subprocess.run(
        [sys.executable, str(BENCH / "import_time.py"), "--rounds", "1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    figures = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert {f["target"] for f in figures} == {"import podium", "podium validate path"}
    assert all(f["median_ms"] > 0 for f in figures)
