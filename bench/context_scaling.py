"""Loading a turn's context must not cost more as the history grows.

Builds sessions of 10, 1,000 and 10,000 messages in each store (SQLite on disk; DynamoDB
under moto, a local stand-in, so its times are moto's and only its item counts are
DynamoDB's), then times `build_context` (the newest messages within a 4,000-token budget)
on each, interleaving the sessions round by round so drift hits all alike. Prints, side by
side, the median time and the items read per context load, with ratios to the 1,000-message
session (the 10-message session holds less than one budget, so it reads everything it has),
and one JSON line per measurement.

    python bench/context_scaling.py [--sizes 10,1000,10000] [--rounds 31] [--stores sqlite,dynamodb]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from podium.store.base import Store
from podium.store.blobs import DiskBlobStore
from podium.store.context import build_context
from podium.store.models import Message
from podium.store.sqlite import SqliteStore

TENANT = "bench"
BUDGET = 4000


def count_tokens(messages: list[dict[str, Any]]) -> int:
    """A fixed-cost stand-in for a tokenizer (4 per message + 1 per 4 characters), so the
    figures measure the store, not tiktoken."""
    return sum(4 + len(str(m.get("content") or "")) // 4 for m in messages)


def history(n: int) -> Iterator[Message]:
    """User/assistant turns of ~60 tokens, with a tool call every tenth turn."""
    for i in range(n):
        if i % 20 == 18:
            call = {"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
            yield Message(role="assistant", content=None, tool_calls=[call])
        elif i % 20 == 19:
            yield Message(role="tool", content="result " * 30, tool_call_id=f"c{i - 1}")
        elif i % 2 == 0:
            yield Message(role="user", content=f"question {i} " + "lorem ipsum " * 20)
        else:
            yield Message(role="assistant", content=f"answer {i} " + "dolor sit " * 20)


class CountingClient:
    """Wraps a boto3 DynamoDB client, adding up the items each read returns or scans."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.items_read = 0
        self.calls = 0
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if name not in ("query", "get_item"):
            return attr

        def call(**kwargs: Any) -> Any:
            response = attr(**kwargs)
            with self._lock:
                self.calls += 1
                self.items_read += response.get("ScannedCount", 1 if "Item" in response else 0)
            return response

        return call


@contextmanager
def sqlite_store(root: Path) -> Iterator[tuple[Store, Callable[[], int]]]:
    store = SqliteStore(root / "bench.db", blobs=DiskBlobStore(root / "blobs"))
    yield store, lambda: -1
    store.close()


@contextmanager
def dynamodb_store(root: Path) -> Iterator[tuple[Store, Callable[[], int]]]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(name, "bench")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    import boto3
    from moto import mock_aws  # noqa: TID251 — the benchmark, not podium, uses moto

    from podium.store.dynamodb import DynamoStore, create_table

    with mock_aws():
        raw = boto3.client("dynamodb", region_name="us-east-1")
        create_table(raw, "bench")
        client = CountingClient(raw)
        store = DynamoStore("bench", client, blobs=DiskBlobStore(root / "blobs"))
        yield store, lambda: client.items_read


def fill(store: Store, n: int) -> str:
    """Append `n` messages through the store (SQLite), or write them in batches of 25 with
    the store's own item codec (DynamoDB: moto takes ~30 ms per transactional append, so
    10,000 appends would dominate the run; the loads measured are the same either way)."""
    session = store.create_session(TENANT, agent="bench", agent_hash="h")
    sid = session.session_id
    if isinstance(store, SqliteStore):
        for message in history(n):
            store.append_message(TENANT, sid, message)
        return sid
    from podium.store.dynamodb_codec import META, data_item, key, msg_sk, session_pk, values

    client: Any = store.client  # type: ignore[attr-defined]
    table: str = store.table  # type: ignore[attr-defined]
    pk = session_pk(TENANT, sid)
    now = time.time()
    items = [
        data_item(pk, msg_sk(seq), m.model_copy(update={"seq": seq, "created_at": now}))
        for seq, m in enumerate(history(n), start=1)
    ]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]
        client.batch_write_item(RequestItems={table: batch})
    client.update_item(
        TableName=table,
        Key=key(pk, META),
        UpdateExpression="SET last_seq = :n",
        ExpressionAttributeValues=values(n=n),
    )
    return sid


def measure(
    store: Store, read_counter: Callable[[], int], sizes: list[int], rounds: int
) -> list[dict[str, Any]]:
    sessions = {n: fill(store, n) for n in sizes}
    times: dict[int, list[float]] = {n: [] for n in sizes}
    items: dict[int, int] = {}
    backend_items: dict[int, int] = {}
    for n, sid in sessions.items():  # warm-up, and the item counts (the same every load)
        before = read_counter()
        window = build_context(
            store,
            TENANT,
            sid,
            system_prompt="sys",
            budget_tokens=BUDGET,
            token_counter=count_tokens,
        )
        items[n] = window.items_read
        backend_items[n] = read_counter() - before if before >= 0 else -1
    for _ in range(rounds):
        for n, sid in sessions.items():
            start = time.perf_counter()
            build_context(
                store,
                TENANT,
                sid,
                system_prompt="sys",
                budget_tokens=BUDGET,
                token_counter=count_tokens,
            )
            times[n].append((time.perf_counter() - start) * 1000)
    return [
        {
            "messages": n,
            "median_ms": statistics.median(times[n]),
            "items_read": items[n],
            "backend_items_read": backend_items[n],
        }
        for n in sizes
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--rounds", type=int, default=31)
    parser.add_argument("--stores", default="sqlite,dynamodb")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    reference = 1000 if 1000 in sizes else sizes[0]
    factories = {"sqlite": sqlite_store, "dynamodb": dynamodb_store}
    print(f"context load: newest messages within {BUDGET} tokens; {args.rounds} rounds, medians")
    header = (
        f"{'store':<9} {'messages':>8} {'load ms':>8} {'x ref':>6} "
        f"{'items read':>10} {'x ref':>6} {'backend items':>13}"
    )
    print(header)
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.stores.split(","):
            with factories[kind](Path(tmp) / kind) as (store, counter):
                rows = measure(store, counter, sizes, args.rounds)
            ref = next(r for r in rows if r["messages"] == reference)
            for row in rows:
                time_ratio = row["median_ms"] / ref["median_ms"]
                item_ratio = row["items_read"] / ref["items_read"]
                backend = row["backend_items_read"]
                print(
                    f"{kind:<9} {row['messages']:>8} {row['median_ms']:>8.2f} {time_ratio:>6.2f} "
                    f"{row['items_read']:>10} {item_ratio:>6.2f} "
                    f"{backend if backend >= 0 else '-':>13}"
                )
                print(
                    json.dumps(
                        {
                            "figure": "context_load",
                            "store": kind,
                            **row,
                            "time_ratio_to_ref": round(time_ratio, 3),
                            "items_ratio_to_ref": round(item_ratio, 3),
                            "reference_messages": reference,
                        }
                    )
                )
    print(f"(x ref: ratio to the {reference}-message session, measured in the same run)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
