"""`make bench`: every figure of Podium side by side with its peers, in one run.

Runs each figure's script in turn (each starts its own fake server and contender
processes), echoes its tables and JSON lines, and writes `bench/RESULTS.md`: the machine, the
versions, every table, and the targets with their verdicts. Ratios are only ever computed
between numbers of the same run.

    python bench/suite.py [--quick] [--only overhead,cold_start,...] [--no-results]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from explain import explanations
from harness import table
from workload import BENCH, python_of

FIGURES = {
    "overhead": "fig_overhead.py",
    "profile": "profile_turn.py",
    "cold_start": "fig_cold_start.py",
    "streaming": "fig_streaming.py",
    "throughput": "fig_throughput.py",
    "history": "fig_history.py",
    "aws_cost": "fig_aws_cost.py",
}
VERSIONED = (
    "podium",
    "litellm",
    "httpx",
    "openai",
    "pydantic",
    "langgraph",
    "langgraph-checkpoint-sqlite",
    "langchain-openai",
    "langchain-core",
    "openai-agents",
    "fastapi",
    "uvicorn",
    "mangum",
    "boto3",
    "moto",
)


def versions(python: str, names: tuple[str, ...]) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m\n"
        f"names = {list(names)!r}\n"
        "out = {}\n"
        "for n in names:\n"
        "    try: out[n] = m.version(n)\n"
        "    except m.PackageNotFoundError: pass\n"
        "print(json.dumps(out))"
    )
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return dict(json.loads(done.stdout or "{}"))


def machine() -> dict[str, Any]:
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    return {
        "os": platform.platform(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory": memory,
        "python": platform.python_version(),
    }


def run_figure(name: str, quick: bool) -> tuple[list[str], list[dict[str, Any]], float, int]:
    command = [sys.executable, str(BENCH / FIGURES[name])]
    if quick:
        command.append("--turns=10" if name == "profile" else "--quick")
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    text: list[str] = []
    records: list[dict[str, Any]] = []
    for line in process.stdout:
        print(line, end="", flush=True)
        if line.startswith("{"):
            records.append(json.loads(line))
        else:
            text.append(line.rstrip("\n"))
    code = process.wait()
    return text, records, time.perf_counter() - start, code


def targets_table(records: list[dict[str, Any]]) -> str:
    """Every target of the run with its value, limit and verdict."""
    return table(
        ["figure", "target", "value", "limit", "verdict"],
        [
            [
                t["source"],
                t["target"],
                "—" if t["value"] is None else f"{t['value']:.4g}",
                f"{t['limit']:g}",
                t["status"],
            ]
            for t in records
            if t.get("figure") == "target"
        ],
    )


def write_results(
    path: Path,
    sections: list[tuple[str, list[str], float, int]],
    records: list[dict[str, Any]],
    quick: bool,
    total_s: float,
) -> None:
    info = machine()
    main_versions = versions(python_of("main"), VERSIONED)
    strands_versions = versions(python_of("strands"), ("strands-agents", "openai", "httpx"))
    lines = [
        "# Benchmark results",
        "",
        f"Written by `make bench{'-quick' if quick else ''}` on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC in {total_s / 60:.1f} min. Every ratio "
        "below compares numbers measured in this same run. Regenerate with `make bench`; the "
        "method of each figure is the docstring of its script in `bench/`.",
        "",
        "## Machine and versions",
        "",
        f"- {info['os']}; {info['cpu']}; {info['cores']} cores; {info['memory']}; "
        f"Python {info['python']}",
        "- bench/.venv/main: " + ", ".join(f"{k} {v}" for k, v in main_versions.items()),
        "- bench/.venv/strands: " + ", ".join(f"{k} {v}" for k, v in strands_versions.items()),
        "",
        "## Targets",
        "",
        targets_table(records),
        "",
    ]
    why = explanations(records)
    if why:
        lines += ["## Why a target is not met", ""]
        for target, text in why:
            lines += [f"- **{target}.** {text}", ""]
    for name, text, seconds, code in sections:
        lines += [f"## {name} ({seconds:.0f} s{'' if code == 0 else f', exit {code}'})", ""]
        lines += [line.removeprefix("### ") if line.startswith("### ") else line for line in text]
        lines.append("")
    lines += ["## JSON lines", "", "```"] + [json.dumps(r) for r in records] + ["```", ""]
    path.write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated figures: " + ", ".join(FIGURES))
    parser.add_argument(
        "--results",
        type=Path,
        help="default: bench/RESULTS.md (quick: "
        "bench/.venv/RESULTS-quick.md, so a quick pass never replaces it)",
    )
    parser.add_argument("--no-results", action="store_true", help="do not write RESULTS.md")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(FIGURES)
    start = time.perf_counter()
    sections = []
    records: list[dict[str, Any]] = []
    failed = []
    for name in names:
        text, found, seconds, code = run_figure(name, args.quick)
        sections.append((name, text, seconds, code))
        records += found
        if code != 0:
            failed.append(name)
    total = time.perf_counter() - start
    print("\n### Targets\n")
    print(targets_table(records))
    for target, text in explanations(records):
        print(f"\n{target}: {text}")
    print(f"\nbenchmarks took {total / 60:.1f} min" + (f"; failed: {failed}" if failed else ""))
    if not args.no_results:
        path = args.results or BENCH / (".venv/RESULTS-quick.md" if args.quick else "RESULTS.md")
        write_results(path, sections, records, args.quick, total)
        print(f"wrote {path}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
