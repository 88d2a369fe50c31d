"""Figure 5 — a turn must not cost more as the session's history grows.

Podium in-process (local runner, SQLite) runs the benchmark turn on sessions that already
hold 10, 1,000 and 10,000 messages (user/assistant turns of ~60 tokens with a tool call now
and then), interleaved round by round. Sessions of up to 1,000 messages are made afresh each
round (each turn adds 5 messages); the 10,000-message one is reused (it grows by < 1 %). The
messages are written as Podium writes its own: with their token counts.
Reported per size: median and p95 wall time of the turn (start_run to the execution's end),
and the store reads one turn makes — calls, items returned, messages among them.

The window a turn sends grows with the history up to the agent's context budget (32,000
tokens by default: ~530 of these messages), and sending it costs the model call itself
more. So each turn is followed, in the same round, by the floor's turn (the raw `httpx`
loop, streaming) sending the very window Podium sent; the difference is Podium's own time,
reported beside the turn time.

    python bench/fig_history.py [--quick] [--sizes 10,1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from contenders.loops import HttpxLoop
from context_scaling import history
from harness import check, emit, heading, median, percentile, table
from workload import fake_server, python_of, quiet_environment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rounds = args.rounds or (4 if args.quick else 15)
    quiet_environment()
    from contenders.podium_local import AGENT, TENANT, PodiumLocal

    wall: dict[int, list[float]] = {n: [] for n in sizes}
    floor_wall: dict[int, list[float]] = {n: [] for n in sizes}
    reads: dict[int, list[tuple[int, int, int]]] = {n: [] for n in sizes}
    with fake_server(python_of("main")) as url, tempfile.TemporaryDirectory() as tmp:
        podium = PodiumLocal(url, Path(tmp), count_reads=True)
        assert podium.reads is not None
        store = podium.store
        floor = HttpxLoop(url)
        loop = asyncio.new_event_loop()

        from podium.engine.context import counted

        agent = podium.runtime.agents.current(AGENT).agent
        messages = {n: [counted(m, agent) for m in history(n)] for n in sizes}

        def prefilled(n: int) -> str:
            """A session holding `n` messages as Podium stores them (token counts included)."""
            sid = store.create_session(TENANT, agent=AGENT, agent_hash=_hash(podium)).session_id
            for message in messages[n]:
                store.append_message(TENANT, sid, message)
            return sid

        fill_start = time.perf_counter()
        reused = {n: prefilled(n) for n in sizes if n > 1000}
        fill_s = time.perf_counter() - fill_start
        for _ in range(3):  # warm-up: imports, connections, caches
            podium.turn_sync(prefilled(10), False)
        for r in range(rounds):
            fresh = {n: prefilled(n) for n in sizes if n <= 1000}
            for n in sizes[r % len(sizes) :] + sizes[: r % len(sizes)]:
                session = reused.get(n) or fresh[n]
                before = podium.reads.snapshot()
                start = time.perf_counter()
                podium.turn_sync(session, False)
                wall[n].append((time.perf_counter() - start) * 1000)
                after = podium.reads.snapshot()
                reads[n].append(tuple(a - b for a, b in zip(after, before, strict=True)))  # type: ignore[arg-type]
                floor.history = _window_before_last_turn(podium, session)
                start = time.perf_counter()
                loop.run_until_complete(floor.turn(None, True))
                floor_wall[n].append((time.perf_counter() - start) * 1000)
        loop.run_until_complete(floor.close())
        loop.close()
        asyncio.run(podium.close())
    heading(
        f"Figure 5 — per-turn time against the history's length ({rounds} rounds, Podium "
        "in-process, SQLite)"
    )
    _report(sizes, wall, floor_wall, reads, fill_s)
    return 0


def _report(
    sizes: list[int],
    wall: dict[int, list[float]],
    floor_wall: dict[int, list[float]],
    reads: dict[int, list[tuple[int, int, int]]],
    fill_s: float,
) -> None:
    smallest = median(wall[sizes[0]])
    own = {n: median([w - f for w, f in zip(wall[n], floor_wall[n], strict=True)]) for n in sizes}
    rows = []
    records = []
    for n in sizes:
        calls, items, messages = (median([r[i] for r in reads[n]]) for i in range(3))
        rows.append(
            [
                n,
                median(wall[n]),
                percentile(wall[n], 95),
                median(wall[n]) / smallest,
                median(floor_wall[n]),
                own[n],
                own[n] / own[sizes[0]],
                calls,
                items,
                messages,
            ]
        )
        records.append(
            {
                "messages": n,
                "median_ms": median(wall[n]),
                "p95_ms": percentile(wall[n], 95),
                "ratio_to_smallest": median(wall[n]) / smallest,
                "same_window_floor_ms": median(floor_wall[n]),
                "own_ms": own[n],
                "own_ratio_to_smallest": own[n] / own[sizes[0]],
                "read_calls": calls,
                "items_read": items,
                "messages_read": messages,
            }
        )
    print(
        table(
            [
                "prior messages",
                "p50 ms",
                "p95 ms",
                "x smallest",
                "same-window floor ms",
                "Podium's own ms",
                "own x smallest",
                "store read calls",
                "items read",
                "messages read",
            ],
            rows,
        )
    )
    print(
        f"(per turn, medians; Podium's own: the turn minus the floor's turn sending the same "
        f"window, paired round by round; the 10,000-message session took {fill_s:.1f} s to fill)"
    )
    for record in records:
        emit("history", **record)
    ratio = median(wall[sizes[-1]]) / smallest
    check("history", f"turn time {sizes[-1]:,} / {sizes[0]:,} messages", ratio, 1.3, ratio <= 1.3)


def _window_before_last_turn(podium: Any, session: str) -> list[dict[str, Any]]:
    """The history part of the window Podium's last turn sent first: the session's context
    window, built as the turn built it, less the turn's own five messages."""
    from podium.models.tokens import count_tokens
    from podium.store.context import build_context

    agent = podium.runtime.agents.current("bench").agent
    model = agent.resolve_model(agent.model).model
    last_seq = podium.store.get_session("bench", session).last_seq
    window = build_context(
        podium.store, "bench", session, system_prompt=None,
        budget_tokens=agent.context.max_tokens, model=model,
        token_counter=lambda messages: count_tokens(model, messages),
        cache=podium.runtime.message_cache, last_seq=last_seq - 5,
    )  # fmt: skip
    return window.messages


def _hash(podium: object) -> str:
    return podium.runtime.agents.current("bench").content_hash  # type: ignore[attr-defined]


if __name__ == "__main__":
    sys.exit(main())
