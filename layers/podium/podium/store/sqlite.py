"""SqliteStore: the local, embedded store (durable across restarts).

One file in WAL mode; one connection per thread (and per process: a forked child opens its
own). Every conditional write runs inside `BEGIN IMMEDIATE`, which takes the database's
write lock before reading, so check-then-write is atomic across threads *and* processes.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from podium.errors import ConflictError
from podium.store._sqlite_base import SESSION_TABLES
from podium.store.ids import check_name, new_session_id
from podium.store.models import (
    Lease,
    Message,
    Page,
    QueuedInput,
    Session,
    Summary,
)
from podium.store.payloads import decode_cursor, encode_cursor
from podium.store.sqlite_runs import SqliteRunsMixin

if TYPE_CHECKING:
    import sqlite3

logger = logging.getLogger(__name__)


class SqliteStore(SqliteRunsMixin):
    """The Store on one SQLite file (WAL); blobs in a directory beside it by default.

    `SqliteStore(path)` is safe to share between threads, and between processes opening the
    same file.
    """

    # ----------------------------------------------------------------- sessions

    def create_session(
        self,
        tenant: str,
        *,
        agent: str,
        agent_hash: str,
        session_id: str | None = None,
        input_vars: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        retention_s: float | None = None,
    ) -> Session:
        """See `Store.create_session`."""
        now = self.clock()
        session_id = session_id or new_session_id(now)
        self._check_session_key(tenant, session_id)
        check_name(agent, "agent")
        session = Session(
            tenant=tenant,
            session_id=session_id,
            agent=agent,
            agent_hash=agent_hash,
            input_vars=input_vars or {},
            metadata=metadata or {},
            created_at=now,
            updated_at=now,
            expires_at=None if retention_s is None else now + retention_s,
        )
        with self._tx() as conn:
            row = conn.execute(
                "SELECT expires_at FROM sessions WHERE tenant = ? AND session_id = ?",
                (tenant, session_id),
            ).fetchone()
            if row is not None:
                if self._alive(row[0], now):
                    raise ConflictError("session exists", session_id=session_id)
                # An expired session: purge it, then create afresh.
                self._delete_session_rows(conn, tenant, session_id)
                self.blobs.delete_prefix(self._prefix(tenant, session_id))
            conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (tenant, session_id, agent, now, session.expires_at, session.model_dump_json()),
            )
        logger.info("tenant=%s session=%s agent=%s | session created", tenant, session_id, agent)
        return session

    def get_session(self, tenant: str, session_id: str) -> Session:
        """See `Store.get_session`."""
        return self._session(self._conn(), tenant, session_id)

    def list_sessions(
        self,
        tenant: str,
        *,
        agent: str | None = None,
        updated_after: float | None = None,
        updated_before: float | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> Page[Session]:
        """See `Store.list_sessions`."""
        check_name(tenant, "tenant")
        self._check_limit(limit)
        scope = f"sessions|{tenant}|{agent}|{updated_after}|{updated_before}"
        position = decode_cursor(cursor, scope)
        sql = [
            "SELECT data FROM sessions WHERE tenant = ? AND (expires_at IS NULL OR expires_at > ?)"
        ]
        args: list[Any] = [tenant, self.clock()]
        if agent is not None:
            sql.append("AND agent = ?")
            args.append(agent)
        if updated_after is not None:
            sql.append("AND updated_at >= ?")
            args.append(updated_after)
        if updated_before is not None:
            sql.append("AND updated_at < ?")
            args.append(updated_before)
        if position is not None:
            sql.append("AND (updated_at < ? OR (updated_at = ? AND session_id < ?))")
            args.extend([position[0], position[0], position[1]])
        sql.append("ORDER BY updated_at DESC, session_id DESC LIMIT ?")
        args.append(limit + 1)
        rows = self._conn().execute(" ".join(sql), args).fetchall()
        items = [Session.model_validate_json(r[0]) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit:
            last = items[-1]
            next_cursor = encode_cursor(scope, [last.updated_at, last.session_id])
        return Page(items=items, cursor=next_cursor)

    def update_session(
        self,
        tenant: str,
        session_id: str,
        *,
        expected_version: int,
        metadata: dict[str, Any] | None = None,
        agent_hash: str | None = None,
    ) -> Session:
        """See `Store.update_session`."""
        with self._tx() as conn:
            session = self._session(conn, tenant, session_id)
            if session.version != expected_version:
                raise ConflictError(
                    "session version moved", expected=expected_version, actual=session.version
                )
            updates: dict[str, Any] = {"version": session.version + 1, "updated_at": self.clock()}
            if metadata is not None:
                updates["metadata"] = metadata
            if agent_hash is not None:
                updates["agent_hash"] = agent_hash
            session = session.model_copy(update=updates)
            self._save_session(conn, session)
        return session

    def delete_session(self, tenant: str, session_id: str) -> None:
        """See `Store.delete_session`."""
        with self._tx() as conn:
            self._session_expiry(conn, tenant, session_id)
            self._delete_session_rows(conn, tenant, session_id)
        self.blobs.delete_prefix(self._prefix(tenant, session_id))
        logger.info("tenant=%s session=%s | session deleted", tenant, session_id)

    @staticmethod
    def _delete_session_rows(conn: sqlite3.Connection, tenant: str, session_id: str) -> None:
        for table in ("sessions", *SESSION_TABLES):
            conn.execute(
                f"DELETE FROM {table} WHERE tenant = ? AND session_id = ?",  # noqa: S608 — fixed names
                (tenant, session_id),
            )

    # ------------------------------------------------------------ lease & queue

    def acquire_session_lease(
        self, tenant: str, session_id: str, run_id: str, ttl_s: float, *, now: float | None = None
    ) -> Session:
        """See `Store.acquire_session_lease`."""
        now = self._now(now)
        with self._tx() as conn:
            session = self._session(conn, tenant, session_id)
            holder = session.lease_holder(now)
            if holder is not None and holder != run_id:
                raise ConflictError("session is busy", holder=holder)
            session = session.model_copy(
                update={
                    "lease": Lease(run_id=run_id, expires_at=now + ttl_s),
                    "version": session.version + 1,
                }
            )
            self._save_session(conn, session)
        return session

    def renew_session_lease(
        self, tenant: str, session_id: str, run_id: str, ttl_s: float, *, now: float | None = None
    ) -> Session:
        """See `Store.renew_session_lease`."""
        now = self._now(now)
        with self._tx() as conn:
            session = self._session(conn, tenant, session_id)
            if session.lease is None or session.lease.run_id != run_id:
                holder = session.lease.run_id if session.lease else None
                raise ConflictError("lease not held by this run", run_id=run_id, holder=holder)
            if session.lease.expires_at >= now + ttl_s:
                return session
            session = session.model_copy(
                update={"lease": Lease(run_id=run_id, expires_at=now + ttl_s)}
            )
            self._save_session(conn, session)
        return session

    def release_session_lease(
        self,
        tenant: str,
        session_id: str,
        run_id: str,
        *,
        handoff_ttl_s: float | None = None,
        now: float | None = None,
    ) -> QueuedInput | None:
        """See `Store.release_session_lease`."""
        now = self._now(now)
        with self._tx() as conn:
            session = self._session(conn, tenant, session_id)
            if session.lease is None or session.lease.run_id != run_id:
                raise ConflictError("lease not held by this run", run_id=run_id)
            head: QueuedInput | None = None
            lease: Lease | None = None
            queue = list(session.queue)
            if handoff_ttl_s is not None and queue:
                head = queue.pop(0)
                lease = Lease(run_id=head.run_id, expires_at=now + handoff_ttl_s)
            session = session.model_copy(
                update={"lease": lease, "queue": queue, "version": session.version + 1}
            )
            self._save_session(conn, session)
        return self._unpack_queued(head)

    def steal_session_lease(
        self,
        tenant: str,
        session_id: str,
        run_id: str,
        *,
        expected_holder: str,
        ttl_s: float,
        now: float | None = None,
    ) -> Session:
        """See `Store.steal_session_lease`."""
        now = self._now(now)
        with self._tx() as conn:
            session = self._session(conn, tenant, session_id)
            if session.lease is None or session.lease.run_id != expected_holder:
                holder = session.lease.run_id if session.lease else None
                raise ConflictError("lease moved", expected=expected_holder, holder=holder)
            session = session.model_copy(
                update={
                    "lease": Lease(run_id=run_id, expires_at=now + ttl_s),
                    "version": session.version + 1,
                }
            )
            self._save_session(conn, session)
        return session

    def enqueue_input(self, tenant: str, session_id: str, queued: QueuedInput) -> Session:
        """See `Store.enqueue_input`."""
        self._check_session_key(tenant, session_id)
        queued = self._pack_queued(tenant, session_id, queued)
        if not queued.queued_at:
            queued = queued.model_copy(update={"queued_at": self.clock()})
        with self._tx() as conn:
            session = self._session(conn, tenant, session_id)
            if len(session.queue) >= self.max_queue:
                raise ConflictError("queue is full", reason="queue_full", limit=self.max_queue)
            session = session.model_copy(
                update={"queue": [*session.queue, queued], "version": session.version + 1}
            )
            self._save_session(conn, session)
        return session

    def pop_queued_input(self, tenant: str, session_id: str) -> QueuedInput | None:
        """See `Store.pop_queued_input`."""
        with self._tx() as conn:
            session = self._session(conn, tenant, session_id)
            if not session.queue:
                return None
            head, *rest = session.queue
            session = session.model_copy(update={"queue": rest, "version": session.version + 1})
            self._save_session(conn, session)
        return self._unpack_queued(head)

    # ----------------------------------------------------------------- messages

    def append_message(
        self, tenant: str, session_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> Message:
        """See `Store.append_message`."""
        self._check_session_key(tenant, session_id)
        packed = self._pack_message(tenant, session_id, message)
        key = None if idempotency_key is None else f"msg:{idempotency_key}"
        now = self.clock()
        with self._tx() as conn:
            session = self._session(conn, tenant, session_id)
            if key is not None:
                row = conn.execute(
                    "SELECT m.data FROM idempotency i JOIN messages m ON m.tenant = i.tenant "
                    "AND m.session_id = i.session_id AND m.seq = CAST(i.value AS INTEGER) "
                    "WHERE i.tenant = ? AND i.session_id = ? AND i.key = ?",
                    (tenant, session_id, key),
                ).fetchone()
                if row is not None:
                    existing = Message.model_validate_json(row[0])
                    return self._unpack_message(existing, True)
            seq = session.last_seq + 1
            stored = packed.model_copy(
                update={"seq": seq, "created_at": now, "expires_at": session.expires_at}
            )
            conn.execute(
                "INSERT INTO messages VALUES (?, ?, ?, ?, ?)",
                (tenant, session_id, seq, stored.expires_at, stored.model_dump_json()),
            )
            if key is not None:
                conn.execute(
                    "INSERT INTO idempotency VALUES (?, ?, ?, ?)",
                    (tenant, session_id, key, str(seq)),
                )
            self._save_session(
                conn, session.model_copy(update={"last_seq": seq, "updated_at": now})
            )
        return self._unpack_message(stored, True)

    def list_messages(
        self,
        tenant: str,
        session_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        newest_first: bool = False,
        hydrate: bool = True,
    ) -> Page[Message]:
        """See `Store.list_messages`."""
        self._check_limit(limit)
        conn = self._conn()
        self._session_expiry(conn, tenant, session_id)
        scope = f"messages|{tenant}|{session_id}|{'desc' if newest_first else 'asc'}"
        position = decode_cursor(cursor, scope)
        op, order = ("<", "DESC") if newest_first else (">", "ASC")
        bound = position if position is not None else (2**62 if newest_first else 0)
        rows = conn.execute(
            "SELECT data FROM messages WHERE tenant = ? AND session_id = ? "  # noqa: S608
            f"AND seq {op} ? AND (expires_at IS NULL OR expires_at > ?) "
            f"ORDER BY seq {order} LIMIT ?",
            (tenant, session_id, bound, self.clock(), limit + 1),
        ).fetchall()
        items = [Message.model_validate_json(r[0]) for r in rows[:limit]]
        next_cursor = encode_cursor(scope, items[-1].seq) if len(rows) > limit else None
        return Page(items=[self._unpack_message(m, hydrate) for m in items], cursor=next_cursor)

    def get_messages(
        self, tenant: str, session_id: str, from_seq: int, to_seq: int, *, hydrate: bool = True
    ) -> list[Message]:
        """See `Store.get_messages`."""
        conn = self._conn()
        self._session_expiry(conn, tenant, session_id)
        rows = conn.execute(
            "SELECT data FROM messages WHERE tenant = ? AND session_id = ? AND seq BETWEEN ? AND ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY seq",
            (tenant, session_id, from_seq, to_seq, self.clock()),
        ).fetchall()
        return [self._unpack_message(Message.model_validate_json(r[0]), hydrate) for r in rows]

    def put_summary(self, tenant: str, session_id: str, summary: Summary) -> Summary:
        """See `Store.put_summary`."""
        with self._tx() as conn:
            expires = self._session_expiry(conn, tenant, session_id)
            summary = summary.model_copy(
                update={
                    "created_at": summary.created_at or self.clock(),
                    "expires_at": expires,
                }
            )
            conn.execute(
                "INSERT OR REPLACE INTO summaries VALUES (?, ?, ?, ?, ?)",
                (tenant, session_id, summary.to_seq, summary.expires_at, summary.model_dump_json()),
            )
        return summary

    def get_summary(self, tenant: str, session_id: str) -> Summary | None:
        """See `Store.get_summary`."""
        conn = self._conn()
        self._session_expiry(conn, tenant, session_id)
        row = conn.execute(
            "SELECT data FROM summaries WHERE tenant = ? AND session_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY to_seq DESC LIMIT 1",
            (tenant, session_id, self.clock()),
        ).fetchone()
        return None if row is None else Summary.model_validate_json(row[0])
