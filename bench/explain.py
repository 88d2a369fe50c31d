"""Why a target is not met: for each failing target the benchmark knows the cause of, a
paragraph with the numbers of the same run that show it (written into RESULTS.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Records = list[dict[str, Any]]


def _history(records: Records) -> str | None:
    rows = sorted(
        (r for r in records if r.get("figure") == "history" and "own_ms" in r),
        key=lambda r: r["messages"],
    )
    if len(rows) < 2:
        return None
    small, large = rows[0], rows[-1]
    return (
        f"The window a turn sends grows with the history until it fills the agent's context "
        f"budget (32,000 tokens by default), and the model reads all of it: the raw httpx loop "
        f"sending the very window Podium sent took {small['same_window_floor_ms']:.1f} ms with "
        f"{small['messages']:,} prior messages and {large['same_window_floor_ms']:.1f} ms with "
        f"{large['messages']:,}. Podium's own time per turn (its turn minus that floor, paired "
        f"round by round) went from {small['own_ms']:.1f} to {large['own_ms']:.1f} ms: "
        f"{large['own_ratio_to_smallest']:.2f}x. What is left of it is building the larger "
        f"window (the messages come from memory: {large['messages_read']:.0f} messages read "
        f"from the store a turn, in {large['read_calls']:.0f} read calls as with "
        f"{small['messages']:,}). A smaller `context.max_tokens` shrinks both parts."
    )


def _api_import(records: Records) -> str | None:
    imports = {r.get("target"): r for r in records if r.get("figure") == "import"}
    api = imports.get("API handler")
    base = imports.get("fastapi+mangum+boto3")
    client = imports.get("fastapi+mangum+boto3+DynamoDB client")
    if not (api and base and client):
        return None
    own = api["median_ms"] - client["median_ms"]
    return (
        f"The API handler builds its app at import, with the DynamoDB client every "
        f"authenticated request needs (the key lookup). Creating that client alone took "
        f"{client['median_ms'] - base['median_ms']:.0f} ms in this run "
        f"(fastapi+mangum+boto3 and the client: {client['median_ms']:.0f} ms, "
        f"{client['median_ms'] / base['median_ms']:.2f}x the baseline); the rest of the "
        f"handler — Podium's imports and the app — {own:.0f} ms. Creating the client on the "
        f"first request instead would pass this figure by moving the same cost into the first "
        f"invocation, so it is built at init, where Lambda's init phase (and provisioned "
        f"concurrency) pays for it."
    )


def _fastest_peer_json(records: Records) -> str | None:
    rows = {
        (r["contender"], r["mode"]): r
        for r in records
        if r.get("figure") == "overhead" and r.get("variant") == "zero"
    }
    podium, peer = rows.get(("podium", "json")), rows.get(("agents-mem", "json"))
    if not (podium and peer):
        return None
    return (
        f"A goal beyond the target (which passes): the fastest peer here keeps nothing "
        f"({peer['overhead_ms']:.1f} ms over the floor), while a Podium turn also writes "
        f"its durable event log, its trace and its checkpoints and streams from the provider "
        f"even for a caller that waits for the whole answer "
        f"({podium['cpu_overhead_ms']:.1f} ms of CPU a turn over the floor's, against "
        f"{peer['cpu_overhead_ms']:.1f})."
    )


EXPLAINED: dict[tuple[str, str], Callable[[Records], str | None]] = {
    ("history", "turn time"): _history,
    ("cold_start", "API handler import"): _api_import,
    ("overhead", "(goal) Podium in-process json"): _fastest_peer_json,
}


def explanations(records: Records) -> list[tuple[str, str]]:
    """(target, why) for each failing target with a known cause."""
    out = []
    for target in (r for r in records if r.get("figure") == "target"):
        if target.get("status") != "FAIL":
            continue
        for (source, prefix), explain in EXPLAINED.items():
            if target.get("source") == source and str(target.get("target")).startswith(prefix):
                text = explain(records)
                if text:
                    out.append((str(target["target"]), text))
    return out
