"""The local executor's own cost: per state transition, with and without its checkpoint writes.

The checked-in run machine is executed with handlers that return at once (a run of two model
steps and two parallel tool calls, as in the weather workload), so what is timed is the
executor alone: interpreting states, JSONPath, Map threads — once with checkpoints in an
in-memory store (the interpreter's own cost), once with the SQLite store (what a local run
pays). Rounds alternate between the two; medians per transition are compared in this run.

    python bench/executor_overhead.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "layers" / "podium"))

from podium.engine.executor import LocalExecutor  # noqa: E402
from podium.errors import ConflictError, NotFoundError  # noqa: E402
from podium.store.models import Checkpoint  # noqa: E402
from podium.store.sqlite import SqliteStore  # noqa: E402

TARGET_MS = 1.0


class MemoryCheckpoints:
    """Checkpoints kept in a dict (with the same version checks): the interpreter alone."""

    def __init__(self) -> None:
        self.items: dict[str, Checkpoint] = {}
        self.writes = 0
        self._lock = threading.Lock()

    def put_checkpoint(self, checkpoint: Checkpoint, *, expected_version: int | None) -> Checkpoint:
        with self._lock:
            current = self.items.get(checkpoint.run_id)
            if (current is None) != (expected_version is None) or (
                current is not None and current.version != expected_version
            ):
                raise ConflictError("version moved")
            stored = checkpoint.model_copy(update={"version": (expected_version or 0) + 1})
            self.items[checkpoint.run_id] = stored
            self.writes += 1
            return stored

    def get_checkpoint(self, run_id: str) -> Checkpoint:
        try:
            return self.items[run_id]
        except KeyError:
            raise NotFoundError(run_id) from None


class Counting:
    """Counts a store's checkpoint writes."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.writes = 0

    def put_checkpoint(self, checkpoint: Checkpoint, *, expected_version: int | None) -> Checkpoint:
        self.writes += 1
        result: Checkpoint = self.store.put_checkpoint(
            checkpoint, expected_version=expected_version
        )
        return result

    def get_checkpoint(self, run_id: str) -> Checkpoint:
        result: Checkpoint = self.store.get_checkpoint(run_id)
        return result


def handlers(transitions: list[int]) -> dict[str, Any]:
    steps = {"n": 0}

    def counted(fn: Any) -> Any:
        def call(payload: dict[str, Any]) -> Any:
            transitions[0] += 1
            return fn(payload)

        return call

    def model_step(payload: dict[str, Any]) -> dict[str, Any]:
        steps["n"] += 1
        if steps["n"] % 2 == 1:
            calls = [
                {"call_id": "a", "name": "get_weather", "arguments": {"city": "Paris"}},
                {"call_id": "b", "name": "get_time", "arguments": {"timezone": "UTC"}},
            ]
            return {"number": 1, "next": "tools", "calls": calls}
        return {"number": 2, "next": "end", "calls": []}

    functions = json.loads((ROOT / "statemachines" / "run.functions.json").read_text())
    table: dict[str, Any] = {name: (lambda payload: {"ok": True})
                             for name in functions["functions"]}  # fmt: skip
    table["BeginRunArn"] = lambda payload: {"number": 0, "next": "model", "calls": []}
    table["ModelStepArn"] = model_step
    table["ToolRunnerArn"] = lambda payload: {
        "call_id": payload["call"]["call_id"],
        "outcome": "ok",
        "output": {"ok": 1},
    }
    return {name: counted(fn) for name, fn in table.items()}


STATES_PER_RUN = 14
"""States entered by this run: BeginRun, ModelStep, NextAfterModel, RouteTools, the Map,
2 × (Dispatch, Run), RecordTools, ModelStep, NextAfterModel, EndRun (and the end)."""


def one_run(executor: LocalExecutor, index: int) -> tuple[float, float]:
    payload = {"tenant": "t", "session_id": "s", "run_id": f"run-{index}", "agent": "weather",
               "agent_hash": "h"}  # fmt: skip
    start, cpu = time.perf_counter(), time.process_time()
    result = executor.start(f"run-{index}", payload, wait=True)
    assert result is not None and result.status == "SUCCEEDED", result
    return (time.perf_counter() - start) * 1000, (time.process_time() - cpu) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    definition = json.loads((ROOT / "statemachines" / "run.asl.json").read_text())
    memory = MemoryCheckpoints()
    with tempfile.TemporaryDirectory() as folder:
        sqlite = Counting(SqliteStore(Path(folder) / "podium.db"))
        executors = {
            "in-memory checkpoints": (memory, LocalExecutor(definition, handlers([0]), memory,
                                                            owner="bench")),
            "SQLite checkpoints": (sqlite, LocalExecutor(definition, handlers([0]), sqlite,
                                                         owner="bench")),
        }  # fmt: skip
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in executors}
        for index in range(10):  # warm up
            for name, (_, executor) in executors.items():
                one_run(executor, -1 - index - 100 * len(name))
        writes_before = {name: store.writes for name, (store, _) in executors.items()}
        for index in range(args.runs):
            for name, (_, executor) in executors.items():
                samples[name].append(one_run(executor, index))
        sqlite.store.close()
    print(
        f"Local executor overhead: {args.runs} runs each, {STATES_PER_RUN} states per run, "
        "handlers that return at once"
    )
    print(
        f"{'checkpoints':<24} {'ms/run':>8} {'cpu ms/run':>11} {'ms/transition':>14} "
        f"{'writes/run':>11}"
    )
    figures = {}
    for name, values in samples.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        store = executors[name][0]
        writes = (store.writes - writes_before[name]) / args.runs
        figures[name] = wall / STATES_PER_RUN
        print(
            f"{name:<24} {wall:>8.2f} {cpu:>11.2f} {wall / STATES_PER_RUN:>14.3f} {writes:>11.1f}"
        )
        print(json.dumps({"figure": "executor_overhead", "checkpoints": name,
                          "ms_per_run": round(wall, 3), "cpu_ms_per_run": round(cpu, 3),
                          "ms_per_transition": round(wall / STATES_PER_RUN, 4),
                          "checkpoint_writes_per_run": writes}))  # fmt: skip
    interpreter = figures["in-memory checkpoints"]
    verdict = "PASS" if interpreter < TARGET_MS else "FAIL"
    print(
        f"target: interpreter cost per transition < {TARGET_MS} ms: {interpreter:.3f} ms "
        f"→ {verdict}; SQLite checkpointing adds "
        f"{figures['SQLite checkpoints'] - interpreter:.3f} ms per transition"
    )
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
