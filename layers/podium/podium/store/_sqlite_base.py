"""The SQLite store's foundation: schema, per-thread connections, write transactions."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from podium.errors import NotFoundError, StoreError
from podium.store.base import Store
from podium.store.blobs import DiskBlobStore
from podium.store.models import Session

if TYPE_CHECKING:
    from collections.abc import Iterator

    from podium.store.blobs import BlobStore

logger = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    tenant TEXT NOT NULL, session_id TEXT NOT NULL, agent TEXT NOT NULL,
    updated_at REAL NOT NULL, expires_at REAL, data TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS sessions_by_updated ON sessions (tenant, updated_at, session_id);
CREATE TABLE IF NOT EXISTS messages (
    tenant TEXT NOT NULL, session_id TEXT NOT NULL, seq INTEGER NOT NULL,
    expires_at REAL, data TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS summaries (
    tenant TEXT NOT NULL, session_id TEXT NOT NULL, to_seq INTEGER NOT NULL,
    expires_at REAL, data TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id, to_seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency (
    tenant TEXT NOT NULL, session_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    tenant TEXT NOT NULL, session_id TEXT NOT NULL, run_id TEXT NOT NULL,
    expires_at REAL, data TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id, run_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
    tenant TEXT NOT NULL, session_id TEXT NOT NULL, event_id TEXT NOT NULL,
    run_id TEXT NOT NULL, expires_at REAL, data TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id, event_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS spans (
    tenant TEXT NOT NULL, session_id TEXT NOT NULL, run_id TEXT NOT NULL,
    span_id TEXT NOT NULL, expires_at REAL, data TEXT NOT NULL,
    PRIMARY KEY (tenant, session_id, run_id, span_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    run_id TEXT PRIMARY KEY, tenant TEXT NOT NULL, session_id TEXT NOT NULL,
    terminal INTEGER NOT NULL, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS idempotency_keys (
    scope TEXT NOT NULL, key TEXT NOT NULL, expires_at REAL NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (scope, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runners (
    owner TEXT PRIMARY KEY, expires_at REAL NOT NULL, data TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS agent_versions (
    name TEXT NOT NULL, hash TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (name, hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS api_keys (
    key_hash TEXT PRIMARY KEY, tenant TEXT NOT NULL, data TEXT NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS api_keys_by_tenant ON api_keys (tenant);
CREATE TABLE IF NOT EXISTS usage (
    tenant TEXT NOT NULL, day TEXT NOT NULL, agent TEXT NOT NULL, model TEXT NOT NULL,
    data TEXT NOT NULL, PRIMARY KEY (tenant, day, agent, model)) WITHOUT ROWID;
"""

# Tables holding a session's items, deleted with it.
SESSION_TABLES = ("messages", "summaries", "idempotency", "runs", "events", "spans", "checkpoints")


class SqliteBase(Store):
    """Connections and transactions shared by the SQLite store's parts."""

    def __init__(self, path: str | Path, *, blobs: BlobStore | None = None, **options: Any) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        super().__init__(blobs=blobs or DiskBlobStore(self.path.parent / "blobs"), **options)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._conn().executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")

    # ------------------------------------------------------------- connections

    def _conn(self) -> sqlite3.Connection:
        held: _Held | None = getattr(self._local, "held", None)
        conn = held.conn if held is not None else None
        if conn is None or self._local.pid != os.getpid():
            # Each connection is used by its own thread only; check_same_thread=False lets
            # close() release them all from whichever thread calls it.
            conn = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA busy_timeout = 30000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            # the thread's local holds the only reference to `_Held`: when the thread ends,
            # its connection is closed (threads come and go; connections must not pile up)
            self._local.held = _Held(conn, self._connections, self._connections_lock)
            self._local.pid = os.getpid()
            with self._connections_lock:
                self._connections.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the write lock from its first statement.

        Writers of this process queue on a lock first: SQLite's own busy handler makes a
        waiting writer sleep in growing steps (up to 100 ms), which under many concurrent
        runs costs far more than the writes. Other processes still meet at SQLite's lock."""
        conn = self._conn()
        with self._write_lock:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise StoreError("sqlite busy", error=str(exc)) from exc
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        """Close every connection this store opened (in this process)."""
        with self._connections_lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
        self._local = threading.local()

    # ------------------------------------------------------------------ helpers

    def _session(self, conn: sqlite3.Connection, tenant: str, session_id: str) -> Session:
        self._check_session_key(tenant, session_id)
        row = conn.execute(
            "SELECT data FROM sessions WHERE tenant = ? AND session_id = ?", (tenant, session_id)
        ).fetchone()
        if row is None:
            raise NotFoundError("session not found", session_id=session_id)
        session = Session.model_validate_json(row[0])
        if not self._alive(session.expires_at, self.clock()):
            raise NotFoundError("session not found", session_id=session_id)
        return session

    def _session_expiry(
        self, conn: sqlite3.Connection, tenant: str, session_id: str
    ) -> float | None:
        """The live session's expiry (None: never), without reading the session document:
        what a write of one of its items needs. NotFoundError like `_session`."""
        self._check_session_key(tenant, session_id)
        row = conn.execute(
            "SELECT expires_at FROM sessions WHERE tenant = ? AND session_id = ?",
            (tenant, session_id),
        ).fetchone()
        if row is None or not self._alive(row[0], self.clock()):
            raise NotFoundError("session not found", session_id=session_id)
        return row[0]  # type: ignore[no-any-return]

    @staticmethod
    def _save_session(conn: sqlite3.Connection, session: Session) -> None:
        conn.execute(
            "UPDATE sessions SET updated_at = ?, expires_at = ?, data = ? "
            "WHERE tenant = ? AND session_id = ?",
            (
                session.updated_at,
                session.expires_at,
                session.model_dump_json(),
                session.tenant,
                session.session_id,
            ),
        )


class _Held:
    """A thread's connection, closed (and forgotten by the store) when the thread ends."""

    __slots__ = ("conn", "lock", "registry")

    def __init__(
        self, conn: sqlite3.Connection, registry: list[sqlite3.Connection], lock: threading.Lock
    ) -> None:
        self.conn = conn
        self.registry = registry
        self.lock = lock

    def __del__(self) -> None:
        with self.lock:
            if self.conn in self.registry:
                self.registry.remove(self.conn)
                self.conn.close()
