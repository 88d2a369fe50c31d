"""Figure 1 — overhead per turn over a raw httpx loop, for every contender, measured side by
side in one run.

Each contender runs in its own process; all call the same fake OpenAI server (its own
process) over loopback HTTP. Rounds interleave the contenders (A B C … A B C …, the order
rotated each round) so the machine's drift hits all alike; each round runs `--turns` turns
per contender, non-streaming then streaming. A turn = a fresh session (set up untimed), the
question, two parallel tool calls, the answer (20 chunks when streamed). Reported: median and
p95 wall time per turn, the median's overhead over the httpx floor of the same run, and CPU
per turn (mean; Podium's API adds its server process's CPU).

    python bench/fig_overhead.py [--quick] [--variants zero,ttft200] [--only KEY,KEY]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    ALL_PEERS,
    CONTENDERS,
    PERSISTING_PEERS,
    Worker,
    check,
    emit,
    heading,
    median,
    percentile,
    table,
)
from workload import LATENCY_VARIANTS, fake_server, python_of

MODES = {"json": False, "stream": True}
PLAN = {  # variant → (warm-up turns, rounds, turns per round), full and quick
    ("zero", False): (5, 8, 20),
    ("zero", True): (2, 2, 3),
    ("ttft200", False): (1, 4, 2),
}
"""The quick pass measures only the zero-latency variant."""


def contender_keys(only: str | None) -> list[str]:
    from contenders.podium_api import available

    keys = list(CONTENDERS) if not only else ["httpx", *only.split(",")]
    if "podium-api" in keys and not available():
        keys.remove("podium-api")
    return list(dict.fromkeys(keys))


def measure(
    variant: str, keys: list[str], plan: tuple[int, int, int]
) -> dict[str, dict[str, dict[str, list]]]:
    warm, rounds, per_round = plan
    ttft, chunk = LATENCY_VARIANTS[variant]
    samples: dict[str, dict[str, dict[str, list[Any]]]] = {
        k: {m: {"wall_ms": [], "cpu_ms": [], "errors": []} for m in MODES} for k in keys
    }
    with fake_server(python_of("main"), ttft, chunk) as url, tempfile.TemporaryDirectory() as tmp:
        workers = {k: Worker(k, url, Path(tmp)) for k in keys}
        try:
            for worker in workers.values():
                worker.ready()
            for worker in workers.values():
                for stream in MODES.values():
                    worker.call(op="turns", n=warm, stream=stream)
            for r in range(rounds):
                order = keys[r % len(keys) :] + keys[: r % len(keys)]
                for mode, stream in MODES.items():
                    for key in order:
                        got = workers[key].call(op="turns", n=per_round, stream=stream)
                        for field in ("wall_ms", "cpu_ms", "errors"):
                            samples[key][mode][field].extend(got[field])
        finally:
            for worker in workers.values():
                worker.close()
    return samples


def report(variant: str, samples: dict[str, dict[str, dict[str, list]]]) -> dict[str, Any]:
    ttft, chunk = LATENCY_VARIANTS[variant]
    floor = {m: median(samples["httpx"][m]["wall_ms"]) for m in MODES}
    floor_cpu = {m: _mean(samples["httpx"][m]["cpu_ms"]) for m in MODES}
    rows = []
    records = []
    overhead: dict[str, dict[str, float]] = {}
    for key, modes in samples.items():
        row: list[Any] = [CONTENDERS[key]]
        overhead[key] = {}
        for mode in MODES:
            wall = modes[mode]["wall_ms"]
            over = median(wall) - floor[mode]
            overhead[key][mode] = over
            cpu = _mean(modes[mode]["cpu_ms"])
            row += [median(wall), percentile(wall, 95), over, cpu]
            records.append(
                {
                    "variant": variant,
                    "ttft_ms": ttft,
                    "chunk_ms": chunk,
                    "contender": key,
                    "mode": mode,
                    "turns": len(wall),
                    "median_ms": median(wall),
                    "p95_ms": percentile(wall, 95),
                    "overhead_ms": over,
                    "p95_overhead_ms": percentile(wall, 95)
                    - percentile(samples["httpx"][mode]["wall_ms"], 95),
                    "cpu_ms_per_turn": cpu,
                    "cpu_overhead_ms": cpu - floor_cpu[mode],
                    "errors": len(modes[mode]["errors"]),
                }
            )
        row.append(sum(len(modes[m]["errors"]) for m in MODES))
        rows.append(row)
    turns = len(samples["httpx"]["json"]["wall_ms"])
    heading(
        f"Figure 1 — per-turn overhead over the httpx floor, fake server "
        f"ttft {ttft:g} ms / {chunk:g} ms per chunk ({turns} turns per contender and mode)"
    )
    headers = [
        "contender",
        "json p50 ms",
        "json p95",
        "json +floor",
        "json cpu",
        "stream p50 ms",
        "stream p95",
        "stream +floor",
        "stream cpu",
        "errors",
    ]
    print(table(headers, rows))
    print(
        "(+floor: median minus the httpx loop's median in the same run; cpu: mean CPU ms per "
        "turn. Podium always streams from the provider: its json column is a caller waiting "
        "for the result, compared with the peers' non-streaming calls. The HTTP API row adds "
        "a server hop and the server's CPU.)"
    )
    for record in records:
        emit("overhead", **record)
    return overhead


def targets(variant: str, overhead: dict[str, dict[str, float]]) -> None:
    if "podium" not in overhead:
        return
    for mode in MODES:
        mine = overhead["podium"][mode]
        for prefix, against, keys in (
            ("", "best persisting peer", PERSISTING_PEERS),
            ("(goal) ", "fastest peer", ALL_PEERS),
        ):
            peers = {k: overhead[k][mode] for k in keys if k in overhead}
            if not peers:
                continue
            best = min(peers, key=lambda k: peers[k])
            emit(
                "overhead_ratio",
                variant=variant,
                mode=mode,
                against=best,
                podium_overhead_ms=mine,
                peer_overhead_ms=peers[best],
                ratio=mine / peers[best] if peers[best] > 0 else None,
            )
            if variant == "zero":
                check(
                    "overhead",
                    f"{prefix}Podium in-process {mode} overhead ≤ {against} "
                    f"({best}, {peers[best]:.2f} ms), ms",
                    mine,
                    peers[best],
                    mine <= peers[best],
                )


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--variants", default="zero,ttft200")
    parser.add_argument("--only", help="contender keys besides the floor, comma-separated")
    parser.add_argument("--plan", help="warm-up turns,rounds,turns per round (overrides)")
    args = parser.parse_args()
    keys = contender_keys(args.only)
    if "podium-api" not in keys and not args.only:
        print("Podium via HTTP API: pending (podium.api is not available in this checkout)")
        emit("overhead", contender="podium-api", status="pending")
    for variant in args.variants.split(","):
        if (variant, args.quick) not in PLAN:
            print(f"(variant {variant}: skipped in the quick pass)")
            continue
        plan = PLAN[(variant, args.quick)]
        if args.plan:
            warm, rounds, turns = (int(x) for x in args.plan.split(","))
            plan = (warm, rounds, turns)
        samples = measure(variant, keys, plan)
        targets(variant, report(variant, samples))
    return 0


if __name__ == "__main__":
    sys.exit(main())
