"""What `import podium` (and each entry point's import) costs, measured side by side.

Each round starts fresh interpreters in turn — a bare `python -c pass`, then one importing each
target — so the machine's drift hits all of them alike; the cost of a target is its time minus
the bare interpreter's in the same round. Prints a table and one JSON line per target.

    python bench/import_time.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

TARGETS = {
    "import podium": "import podium",
    "podium validate path": "import podium.protocol.loader, podium.cli.validate",
}
BUDGET_MS = {"import podium": 150.0}


def _time(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return (time.perf_counter() - start) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=21)
    args = parser.parse_args()
    costs: dict[str, list[float]] = {name: [] for name in TARGETS}
    bare: list[float] = []
    _time("pass")  # warm the file cache
    for code in TARGETS.values():
        _time(code)
    for _ in range(args.rounds):
        baseline = _time("pass")
        bare.append(baseline)
        for name, code in TARGETS.items():
            costs[name].append(_time(code) - baseline)
    print(f"python startup (bare): median {statistics.median(bare):.1f} ms, {args.rounds} rounds")
    print(f"{'target':<24} {'median ms':>10} {'p95 ms':>8} {'budget':>8}")
    failed = False
    for name, values in costs.items():
        median = statistics.median(values)
        p95 = sorted(values)[max(0, round(0.95 * len(values)) - 1)]
        budget = BUDGET_MS.get(name)
        verdict = "" if budget is None else ("ok" if median <= budget else "OVER")
        failed |= verdict == "OVER"
        shown = f"{budget:.0f}" if budget else "-"
        print(f"{name:<24} {median:>10.1f} {p95:>8.1f} {shown:>8} {verdict}")
        print(
            json.dumps(
                {
                    "figure": "import_ms",
                    "target": name,
                    "median_ms": round(median, 2),
                    "p95_ms": round(p95, 2),
                    "budget_ms": budget,
                }
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
