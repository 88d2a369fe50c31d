"""What every figure shares: contender processes, statistics, tables and JSON lines.

Contender processes run `bench/contenders/worker.py` under their environment's interpreter
(Strands has its own: it needs openai<3, the OpenAI Agents SDK needs openai>=3). Their
stderr goes to `bench/.venv/logs/`, so the console shows only tables and JSON lines.
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from workload import BENCH, python_of

WORKER = BENCH / "contenders" / "worker.py"
LOGS = BENCH / ".venv" / "logs"

CONTENDERS: dict[str, str] = {
    "httpx": "httpx loop (the floor)",
    "litellm": "litellm.acompletion loop",
    "langgraph": "LangGraph + AsyncSqliteSaver",
    "agents": "OpenAI Agents SDK + SQLiteSession",
    "strands": "Strands + FileSessionManager",
    "langgraph-mem": "LangGraph, no persistence",
    "agents-mem": "OpenAI Agents SDK, no persistence",
    "strands-mem": "Strands, no persistence",
    "podium": "Podium in-process (SQLite)",
    "podium-api": "Podium via HTTP API + SSE",
}
PERSISTING_PEERS = ("langgraph", "agents", "strands")
ALL_PEERS = (*PERSISTING_PEERS, "langgraph-mem", "agents-mem", "strands-mem")


def env_of(key: str) -> str:
    return "strands" if key.startswith("strands") else "main"


class Worker:
    """One contender's process, driven by JSON commands."""

    def __init__(self, key: str, base_url: str, workdir: Path, *, cold: bool = False) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        self.key = key
        self.log: IO[str] = (LOGS / f"{key}.log").open("a")
        command = [
            python_of(env_of(key)),
            str(WORKER),
            key,
            "--base-url",
            base_url,
            "--workdir",
            str(workdir / key),
        ]
        if cold:
            command.append("--cold")
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True
        )
        self.hello: dict[str, Any] = {}

    def ready(self) -> Worker:
        """Wait for the contender to be built (start several, then wait: they build in
        parallel)."""
        if not self.hello:
            self.hello = self._read()
        return self

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            code = self.process.wait(timeout=30)
            raise RuntimeError(f"{self.key} exited ({code}); see {LOGS / (self.key + '.log')}")
        return dict(json.loads(line))

    def call(self, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        return self._read()

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(BrokenPipeError, RuntimeError, ValueError):
                self.call(op="quit")
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (readable on a console too)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "—" if math.isnan(value) else f"{value:,.2f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    right = [any(isinstance(row[i], int | float) for row in rows) for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        padded = [
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = (
        "|"
        + "|".join(
            ("-" * (w + 1) + ":") if r else ("-" * (w + 2))
            for w, r in zip(widths, right, strict=True)
        )
        + "|"
    )
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


def emit(figure: str, **fields: Any) -> None:
    """One JSON line of a figure (the suite collects them)."""
    clean = {
        k: (float(f"{v:.6g}") if isinstance(v, float) and not math.isnan(v) else v)
        for k, v in fields.items()
    }
    print(json.dumps({"figure": figure, **clean}), flush=True)


def heading(text: str) -> None:
    print(f"\n### {text}\n", flush=True)


def verdict(ok: bool | None) -> str:
    return "pending" if ok is None else ("PASS" if ok else "FAIL")


def check(figure: str, target: str, value: float | None, limit: float, ok: bool | None) -> None:
    """A target of the issue, as a line and a JSON record."""
    shown = "—" if value is None else f"{value:.4g}"
    print(f"target: {target}: {shown} (limit {limit:g}) → {verdict(ok)}", flush=True)
    emit("target", source=figure, target=target, value=value, limit=limit, status=verdict(ok))


def write_json(path: Path, payload: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2))


def main_guard() -> None:
    """Figures run as scripts with `bench/` on the path."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
