"""Fixtures for the store contract suite: every test runs against SQLite and DynamoDB (moto)."""

from __future__ import annotations

import itertools
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from podium.store.base import Store
from podium.store.blobs import DiskBlobStore, S3BlobStore
from podium.store.sqlite import SqliteStore
from support.serialized import SerializedClient

TABLE = "podium-test"
BUCKET = "podium-test-blobs"
REGION = "us-east-1"


class FakeClock:
    """Injectable time: TTL and lease expiry are tested by advancing it, never by sleeping."""

    def __init__(self, start: float = 1_767_225_600.0) -> None:  # 2026-01-01T00:00:00Z
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self.now

    def advance(self, seconds: float) -> float:
        with self._lock:
            self.now += seconds
            return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_sqlite(tmp_path: Path, clock: FakeClock, **options: Any) -> SqliteStore:
    return SqliteStore(
        tmp_path / "podium.db", blobs=DiskBlobStore(tmp_path / "blobs"), clock=clock, **options
    )


@pytest.fixture(scope="module")
def moto_clients() -> Iterator[tuple[Any, Any]]:
    """One moto backend and one pair of clients per test module (starting moto and making
    clients per test cost ~0.5 s each); every test gets its own table and bucket."""
    import boto3
    from moto import mock_aws

    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
        }.items():
            patch.setenv(name, value)
        with mock_aws():
            yield (
                boto3.client("dynamodb", region_name=REGION),
                boto3.client("s3", region_name=REGION),
            )


_names = itertools.count()


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock) -> Iterator[Store]:
    if request.param == "sqlite":
        sqlite_store = make_sqlite(tmp_path, clock)
        yield sqlite_store
        sqlite_store.close()
        return
    from podium.store.dynamodb import DynamoStore, create_table

    ddb, s3 = request.getfixturevalue("moto_clients")
    n = next(_names)
    table, bucket = f"{TABLE}-{n}", f"{BUCKET}-{n}"
    create_table(ddb, table)
    s3.create_bucket(Bucket=bucket)
    yield DynamoStore(
        table, SerializedClient(ddb), blobs=S3BlobStore(bucket, SerializedClient(s3)), clock=clock
    )
    ddb.delete_table(TableName=table)


def leftovers(store: Store, tenant: str, session_id: str) -> list[str]:
    """Everything still stored for a session: raw rows/items and blob keys."""
    found: list[str] = []
    prefix = f"t/{tenant}/s/{session_id}/"
    found += [f"blob:{k}" for k in store.blobs.list_keys(prefix)]
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path)
        try:
            for table in (
                "sessions",
                "messages",
                "summaries",
                "idempotency",
                "runs",
                "events",
                "spans",
                "checkpoints",
            ):
                count = conn.execute(
                    f"SELECT COUNT(*) FROM {table} WHERE tenant = ? AND session_id = ?",
                    (tenant, session_id),
                ).fetchone()[0]
                found += [f"{table}"] * count
        finally:
            conn.close()
        return found
    client = store.client  # type: ignore[attr-defined]
    pages = client.get_paginator("scan").paginate(TableName=store.table)  # type: ignore[attr-defined]
    for page in pages:
        for item in page["Items"]:
            pk = item["pk"]["S"]
            belongs = pk == f"T#{tenant}#S#{session_id}" or (
                item.get("session_id", {}).get("S") == session_id
                and item.get("tenant", {}).get("S") == tenant
            )
            if belongs:
                found.append(f"{pk}|{item['sk']['S']}")
    return found
