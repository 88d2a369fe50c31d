"""Where Podium's in-process turn spends its time: cProfile over N benchmark turns.

The execution is run on the calling thread (the local orchestrator is asked to wait), so
one profiler sees the whole turn: admission, every state of the machine, the model calls,
the store. Prints the top functions by own time and by cumulative time, as file:line.

    python bench/profile_turn.py [--turns 50] [--top 25]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import emit, heading
from workload import ROOT, fake_server, python_of, quiet_environment


def _where(key: tuple[str, int, str]) -> str:
    file, line, name = key
    for prefix in (str(ROOT / "layers" / "podium") + "/", str(Path(sys.prefix)) + "/"):
        file = file.removeprefix(prefix)
    file = file.split("site-packages/", 1)[-1]
    return f"{file}:{line}({name})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    quiet_environment()
    from contenders.podium_local import PodiumLocal

    from podium.engine.local import LocalOrchestrator

    def start_inline(self: LocalOrchestrator, name: str, payload: dict) -> str:  # type: ignore[type-arg]
        self.executor.start(name, payload, wait=True)
        return f"local:{name}"

    with fake_server(python_of("main")) as url, tempfile.TemporaryDirectory() as tmp:
        podium = PodiumLocal(url, Path(tmp))
        LocalOrchestrator.start = start_inline  # type: ignore[method-assign]
        sessions = [asyncio.run(podium.new_session()) for _ in range(args.turns + 5)]
        for session in sessions[:5]:
            podium.turn_sync(session, False)
        profile = cProfile.Profile()
        profile.enable()
        for session in sessions[5:]:
            podium.turn_sync(session, False)
        profile.disable()
        asyncio.run(podium.close())
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    heading(
        f"Profile — Podium in-process turn, non-streaming ({args.turns} turns, cProfile; "
        f"{total / args.turns * 1000:.1f} ms profiled per turn)"
    )
    entries = stats.stats  # type: ignore[attr-defined]
    for title, index in (("own time", 2), ("cumulative", 3)):
        ranked = sorted(entries.items(), key=lambda kv: kv[1][index], reverse=True)
        if index == 3:
            ranked = [kv for kv in ranked if "podium/" in kv[0][0] or "litellm" in kv[0][0]]
        print(f"top by {title} (ms per turn, calls per turn):")
        for key, (_cc, calls, tt, ct, _callers) in ranked[: args.top]:
            value = (tt if index == 2 else ct) / args.turns * 1000
            print(f"  {value:8.2f} ms  {calls / args.turns:7.1f}×  {_where(key)}")
            emit(
                "profile",
                by=title,
                ms_per_turn=value,
                calls_per_turn=calls / args.turns,
                where=_where(key),
            )
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
