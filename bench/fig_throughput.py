"""Figure 4 — throughput: 1, 8 and 32 concurrent sessions against the local server.

`podium dev` (uvicorn, the local runner, SQLite) in its own process, the fake server paced
like a model (200 ms to first token, 20 ms per chunk); a client process runs C sessions at
once, each sending `--runs` inputs one after another over HTTP with SSE. Reported per level:
runs per second, p50 and p95 latency per run (post → `finish`), errors (must be 0), CPU per
run (client + server). Podium in-process (the local runner without the HTTP hop) is shown
too, for reference.

    python bench/fig_throughput.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import CONTENDERS, Worker, check, emit, heading, median, percentile, table
from workload import LATENCY_VARIANTS, fake_server, python_of

LEVELS = (1, 8, 32)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    from contenders.podium_api import available

    runs = 1 if args.quick else 4
    keys = ["podium-api", "podium"] if available() else ["podium"]
    if args.quick and available():
        keys = ["podium-api"]
    ttft, chunk = LATENCY_VARIANTS["ttft200"]
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with fake_server(python_of("main"), ttft, chunk) as url, tempfile.TemporaryDirectory() as tmp:
        for key in keys:
            worker = Worker(key, url, Path(tmp)).ready()
            try:
                worker.call(op="turns", n=2, stream=True)  # warm-up
                for level in LEVELS:
                    results[(key, level)] = worker.call(
                        op="concurrent", sessions=level, runs=runs, stream=True
                    )
            finally:
                worker.close()
    heading(
        f"Figure 4 — throughput at 1, 8, 32 concurrent sessions ({runs} runs each; fake "
        f"server {ttft:g} ms to first token, {chunk:g} ms per chunk)"
    )
    rows = []
    records = []
    for (key, level), got in results.items():
        latencies = got["latencies_ms"]
        done = len(latencies)
        rows.append(
            [
                CONTENDERS[key],
                level,
                done / got["elapsed_s"],
                median(latencies),
                percentile(latencies, 95),
                len(got["errors"]),
                got["cpu_ms"] / max(1, done),
            ]
        )
        records.append(
            {
                "contender": key,
                "sessions": level,
                "runs": done,
                "runs_per_s": done / got["elapsed_s"],
                "p50_ms": median(latencies),
                "p95_ms": percentile(latencies, 95),
                "errors": len(got["errors"]),
                "first_errors": got["errors"][:3],
                "cpu_ms_per_run": got["cpu_ms"] / max(1, done),
            }
        )
    print(
        table(["contender", "sessions", "runs/s", "p50 ms", "p95 ms", "errors", "cpu ms/run"], rows)
    )
    for record in records:
        emit("throughput", **record)
    if "podium-api" not in keys:
        print("Podium via HTTP API: pending (podium.api is not available); in-process only")
        check("throughput", "API p95 at 32 sessions / single-session p95", None, 3.0, None)
        return 0
    single = percentile(results[("podium-api", 1)]["latencies_ms"], 50)
    top = results[("podium-api", 32)]
    ratio = percentile(top["latencies_ms"], 95) / single
    ok = ratio <= 3.0 and not top["errors"]
    check(
        "throughput",
        f"API p95 at 32 sessions / single-session latency (errors {len(top['errors'])})",
        ratio,
        3.0,
        ok,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
