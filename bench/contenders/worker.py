"""A contender's process: builds one contender, then answers the orchestrator's commands.

    python bench/contenders/worker.py KEY --base-url URL --workdir DIR [--cold]

Commands arrive as JSON lines on stdin; each answer is one JSON line on the process's
original stdout (anything a framework prints goes to stderr instead):

- `{"op": "turns", "n": N, "stream": bool}` → per-turn wall and CPU milliseconds;
- `{"op": "concurrent", "sessions": C, "runs": R, "stream": bool}` → C sessions at once,
  R turns each: latencies, errors, elapsed time, CPU;
- `{"op": "quit"}`.

With `--cold` it runs one non-streaming turn and reports when each phase ended, measured
from the interpreter's start (the orchestrator also times the whole process from outside).

Wall time is `time.perf_counter()` around the turn; CPU is `time.process_time()` (all the
process's threads) around the turn and whatever it left running (Podium's executor tail).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

START = time.perf_counter()
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workload import ANSWER_MARK, quiet_environment  # noqa: E402

from contenders.base import Contender  # noqa: E402

KEYS = (
    "httpx",
    "litellm",
    "langgraph",
    "langgraph-mem",
    "agents",
    "agents-mem",
    "strands",
    "strands-mem",
    "podium",
    "podium-api",
)


def build(key: str, base_url: str, workdir: Path) -> Contender:
    """The contender named `key` (imports its framework)."""
    persist = not key.endswith("-mem")
    family = key.removesuffix("-mem")
    if family in ("httpx", "litellm"):
        from contenders import loops

        return loops.HttpxLoop(base_url) if family == "httpx" else loops.LitellmLoop(base_url)
    if family in ("langgraph", "agents", "strands"):
        from contenders import frameworks

        kind = {
            "langgraph": frameworks.LangGraphAgent,
            "agents": frameworks.OpenAIAgentsSdk,
            "strands": frameworks.StrandsAgent,
        }[family]
        return kind(base_url, workdir, persist)
    if key == "podium":
        from contenders.podium_local import PodiumLocal

        return PodiumLocal(base_url, workdir)
    if key == "podium-api":
        from contenders.podium_api import PodiumApi

        return PodiumApi(base_url, workdir)
    raise SystemExit(f"unknown contender {key!r}; one of {', '.join(KEYS)}")


def _cpu(contender: Contender) -> float:
    """CPU seconds of this process, plus its server's for a contender behind one."""
    external = getattr(contender, "external_cpu_s", None)
    return time.process_time() + (external() if external is not None else 0.0)


def _ok(text: str) -> bool:
    return ANSWER_MARK in text


async def turns(contender: Contender, n: int, stream: bool) -> dict[str, Any]:
    wall: list[float] = []
    cpu: list[float] = []
    deltas: list[int] = []
    errors: list[str] = []
    for _ in range(n):
        try:
            session = await contender.new_session()
        except Exception as exc:
            errors.append(f"new session: {type(exc).__name__}: {exc}"[:300])
            continue
        cpu0, t0 = _cpu(contender), time.perf_counter()
        try:
            result = await contender.turn(session, stream)
            end = result.done_at or time.perf_counter()
            await contender.settle()
            cpu1 = _cpu(contender)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
            traceback.print_exc()
            continue
        if not _ok(result.text):
            errors.append(f"unexpected answer: {result.text[:200]!r}")
            continue
        wall.append((end - t0) * 1000)
        cpu.append((cpu1 - cpu0) * 1000)
        deltas.append(result.deltas)
    return {"wall_ms": wall, "cpu_ms": cpu, "deltas": deltas, "errors": errors}


async def concurrent(
    contender: Contender, sessions: int, runs: int, stream: bool
) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    blocking = getattr(contender, "turn_sync", None)
    pool = ThreadPoolExecutor(max_workers=sessions)  # one thread per session, not asyncio's 6
    loop = asyncio.get_running_loop()

    async def one_session() -> None:
        try:
            session = await contender.new_session()
        except Exception as exc:
            errors.append(f"new session: {type(exc).__name__}: {exc}"[:300])
            return
        for _ in range(runs):
            t0 = time.perf_counter()
            try:
                if blocking is not None:
                    result = await loop.run_in_executor(pool, blocking, session, stream)
                else:
                    result = await contender.turn(session, stream)
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            end = result.done_at or time.perf_counter()
            if _ok(result.text):
                latencies.append((end - t0) * 1000)
            else:
                errors.append(f"unexpected answer: {result.text[:200]!r}")

    cpu0, t0 = _cpu(contender), time.perf_counter()
    await asyncio.gather(*(one_session() for _ in range(sessions)))
    await contender.settle()
    elapsed = time.perf_counter() - t0
    pool.shutdown()
    return {
        "latencies_ms": latencies,
        "errors": errors,
        "elapsed_s": elapsed,
        "cpu_ms": (_cpu(contender) - cpu0) * 1000,
    }


async def serve(args: argparse.Namespace, out: IO[str]) -> None:
    def reply(payload: dict[str, Any]) -> None:
        out.write(json.dumps(payload) + "\n")
        out.flush()

    imported = time.perf_counter()
    contender = build(args.key, args.base_url, Path(args.workdir))
    built = time.perf_counter()
    if args.cold:
        session = await contender.new_session()
        result = await contender.turn(session, False)
        answered = time.perf_counter()
        reply(
            {
                "name": contender.name,
                "ok": _ok(result.text),
                "build_ms": (built - START) * 1000,
                "answer_ms": (answered - START) * 1000,
                "setup_ms": (imported - START) * 1000,
            }
        )
        await contender.close()
        return
    reply({"name": contender.name, "ready": True, "build_ms": (built - imported) * 1000})
    loop = asyncio.get_running_loop()
    while True:
        line = await loop.run_in_executor(None, sys.stdin.readline)
        if not line:
            break
        command = json.loads(line)
        if command["op"] == "quit":
            break
        if command["op"] == "turns":
            reply(await turns(contender, command["n"], command["stream"]))
        elif command["op"] == "concurrent":
            reply(
                await concurrent(contender, command["sessions"], command["runs"], command["stream"])
            )
        else:
            reply({"error": f"unknown op {command['op']!r}"})
    await contender.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("key", choices=KEYS)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    quiet_environment()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # frameworks' prints go to stderr, never into the protocol
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    asyncio.run(serve(args, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
