"""The SQLite store's runs, events, spans, keys, usage, agent versions and checkpoints."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from podium.errors import ConflictError, NotFoundError
from podium.store._sqlite_base import SqliteBase
from podium.store.idempotency import claimed, key_digest
from podium.store.ids import check_model_name, check_name, content_hash, utc_day
from podium.store.models import (
    AgentVersion,
    ApiKey,
    Checkpoint,
    Event,
    IdempotencyRecord,
    Page,
    PendingApproval,
    Run,
    RunnerLease,
    Span,
    Usage,
    UsageRecord,
)
from podium.store.payloads import decode_cursor, encode_cursor

if TYPE_CHECKING:
    from collections.abc import Sequence


class SqliteRunsMixin(SqliteBase):
    """Runs, events, spans, agent versions, API keys, usage, checkpoints, runner leases."""

    # --------------------------------------------------------------------- runs

    def _run(self, conn: sqlite3.Connection, tenant: str, session_id: str, run_id: str) -> Run:
        self._check_session_key(tenant, session_id)
        row = conn.execute(
            "SELECT data FROM runs WHERE tenant = ? AND session_id = ? AND run_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?)",
            (tenant, session_id, run_id, self.clock()),
        ).fetchone()
        if row is None:
            raise NotFoundError("run not found", run_id=run_id)
        return Run.model_validate_json(row[0])

    @staticmethod
    def _save_run(conn: sqlite3.Connection, run: Run) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?)",
            (run.tenant, run.session_id, run.run_id, run.expires_at, run.model_dump_json()),
        )

    def create_run(self, run: Run) -> Run:
        """See `Store.create_run`."""
        check_name(run.run_id, "run id")
        packed = self._pack_run(run)
        now = self.clock()
        with self._tx() as conn:
            expires = self._session_expiry(conn, run.tenant, run.session_id)
            try:
                return self._unpack_run(
                    self._run(conn, run.tenant, run.session_id, run.run_id), True
                )
            except NotFoundError:
                pass
            stored = packed.model_copy(
                update={
                    "version": 1,
                    "created_at": run.created_at or now,
                    "updated_at": now,
                    "expires_at": expires,
                    "usage": Usage(),
                    "pending_approvals": {},
                }
            )
            self._save_run(conn, stored)
        return self._unpack_run(stored, True)

    def get_run(self, tenant: str, session_id: str, run_id: str, *, hydrate: bool = True) -> Run:
        """See `Store.get_run`."""
        return self._unpack_run(self._run(self._conn(), tenant, session_id, run_id), hydrate)

    def list_runs(
        self, tenant: str, session_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Run]:
        """See `Store.list_runs`."""
        self._check_limit(limit)
        conn = self._conn()
        self._session_expiry(conn, tenant, session_id)
        scope = f"runs|{tenant}|{session_id}"
        position = decode_cursor(cursor, scope)
        rows = conn.execute(
            "SELECT data FROM runs WHERE tenant = ? AND session_id = ? AND run_id < ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY run_id DESC LIMIT ?",
            (tenant, session_id, position or "~", self.clock(), limit + 1),
        ).fetchall()
        items = [Run.model_validate_json(r[0]) for r in rows[:limit]]
        next_cursor = encode_cursor(scope, items[-1].run_id) if len(rows) > limit else None
        return Page(items=items, cursor=next_cursor)

    def update_run(self, run: Run, *, expected_version: int) -> Run:
        """See `Store.update_run`."""
        packed = self._pack_run(run)
        with self._tx() as conn:
            stored = self._run(conn, run.tenant, run.session_id, run.run_id)
            if stored.version != expected_version:
                raise ConflictError(
                    "run version moved", expected=expected_version, actual=stored.version
                )
            new = packed.model_copy(
                update={
                    "version": expected_version + 1,
                    "updated_at": self.clock(),
                    "created_at": stored.created_at,
                    "expires_at": stored.expires_at,
                    "usage": stored.usage,
                    "pending_approvals": stored.pending_approvals,
                }
            )
            self._save_run(conn, new)
        return self._unpack_run(new, True)

    def add_run_usage(
        self,
        tenant: str,
        session_id: str,
        run_id: str,
        usage: Usage,
        *,
        agent: str,
        model: str,
        idempotency_key: str | None = None,
    ) -> Usage:
        """See `Store.add_run_usage`."""
        check_name(agent, "agent")
        check_model_name(model)
        now = self.clock()
        with self._tx() as conn:
            session = self._session(conn, tenant, session_id)
            run = self._run(conn, tenant, session_id, run_id)
            if idempotency_key is not None:
                key = f"usage:{run_id}:{idempotency_key}"
                try:
                    conn.execute(
                        "INSERT INTO idempotency VALUES (?, ?, ?, ?)",
                        (tenant, session_id, key, "1"),
                    )
                except sqlite3.IntegrityError:
                    return run.usage
            run = run.model_copy(update={"usage": run.usage.plus(usage)})
            self._save_run(conn, run)
            self._save_session(
                conn, session.model_copy(update={"usage": session.usage.plus(usage)})
            )
            self._add_usage(conn, tenant, day=utc_day(now), agent=agent, model=model, usage=usage)
        return run.usage

    def add_pending_approval(
        self, tenant: str, session_id: str, run_id: str, approval: PendingApproval
    ) -> None:
        """See `Store.add_pending_approval`."""
        with self._tx() as conn:
            run = self._run(conn, tenant, session_id, run_id)
            if approval.call_id in run.pending_approvals:
                return
            if len(run.pending_approvals) >= self.max_pending_approvals:
                raise ConflictError("too many pending approvals", limit=self.max_pending_approvals)
            approval = approval.model_copy(
                update={"requested_at": approval.requested_at or self.clock()}
            )
            pending = {**run.pending_approvals, approval.call_id: approval}
            self._save_run(conn, run.model_copy(update={"pending_approvals": pending}))

    def resolve_pending_approval(
        self, tenant: str, session_id: str, run_id: str, call_id: str
    ) -> PendingApproval:
        """See `Store.resolve_pending_approval`."""
        with self._tx() as conn:
            run = self._run(conn, tenant, session_id, run_id)
            pending = dict(run.pending_approvals)
            approval = pending.pop(call_id, None)
            if approval is None:
                raise NotFoundError("no pending approval", call_id=call_id)
            self._save_run(conn, run.model_copy(update={"pending_approvals": pending}))
        return approval

    # ------------------------------------------------------------------- events

    def append_events(
        self, tenant: str, session_id: str, events: Sequence[Event], *, ttl_s: float | None = None
    ) -> int:
        """See `Store.append_events`."""
        self._check_session_key(tenant, session_id)
        packed = [self._pack_event(tenant, session_id, e) for e in events]
        now = self.clock()
        written = 0
        with self._tx() as conn:
            session_expires = self._session_expiry(conn, tenant, session_id)
            expires = _earliest(session_expires, None if ttl_s is None else now + ttl_s)
            for event in packed:
                stored = event.model_copy(
                    update={"created_at": event.created_at or now, "expires_at": expires}
                )
                cursor = conn.execute(
                    "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        tenant,
                        session_id,
                        event.event_id,
                        event.run_id,
                        expires,
                        stored.model_dump_json(),
                    ),
                )
                written += cursor.rowcount
        return written

    def list_events(
        self,
        tenant: str,
        session_id: str,
        *,
        after: str | None = None,
        run_id: str | None = None,
        limit: int = 100,
        hydrate: bool = True,
    ) -> list[Event]:
        """See `Store.list_events`."""
        self._check_limit(limit)
        conn = self._conn()
        self._session_expiry(conn, tenant, session_id)
        sql = (
            "SELECT data FROM events WHERE tenant = ? AND session_id = ? AND event_id > ? "
            "AND (expires_at IS NULL OR expires_at > ?)"
        )
        args: list[Any] = [tenant, session_id, after or "", self.clock()]
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        rows = conn.execute(sql + " ORDER BY event_id LIMIT ?", [*args, limit]).fetchall()
        return [self._unpack_event(Event.model_validate_json(r[0]), hydrate) for r in rows]

    # -------------------------------------------------------------------- spans

    def put_span(self, tenant: str, session_id: str, span: Span) -> None:
        """See `Store.put_span`."""
        self.put_spans(tenant, session_id, [span])

    def put_spans(self, tenant: str, session_id: str, spans: Sequence[Span]) -> None:
        """See `Store.put_spans`: one transaction."""
        if not spans:
            return
        with self._tx() as conn:
            expires = self._session_expiry(conn, tenant, session_id)
            conn.executemany(
                "INSERT OR REPLACE INTO spans VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (
                        tenant,
                        session_id,
                        span.run_id,
                        span.span_id,
                        expires,
                        span.model_copy(update={"expires_at": expires}).model_dump_json(),
                    )
                    for span in spans
                ],
            )

    def list_spans(self, tenant: str, session_id: str, run_id: str) -> list[Span]:
        """See `Store.list_spans`."""
        conn = self._conn()
        self._session_expiry(conn, tenant, session_id)
        rows = conn.execute(
            "SELECT data FROM spans WHERE tenant = ? AND session_id = ? AND run_id = ? "
            "AND (expires_at IS NULL OR expires_at > ?) ORDER BY span_id",
            (tenant, session_id, run_id, self.clock()),
        ).fetchall()
        return [Span.model_validate_json(r[0]) for r in rows]

    # ----------------------------------------------------------- agent versions

    def put_agent_version(self, name: str, definition: dict[str, Any]) -> AgentVersion:
        """See `Store.put_agent_version`."""
        check_name(name, "agent")
        version = AgentVersion(
            name=name, hash=content_hash(definition), definition=definition, created_at=self.clock()
        )
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO agent_versions VALUES (?, ?, ?)",
                (name, version.hash, version.model_dump_json()),
            )
        return self.get_agent_version(name, version.hash)

    def get_agent_version(self, name: str, content_hash: str) -> AgentVersion:
        """See `Store.get_agent_version`."""
        row = (
            self._conn()
            .execute(
                "SELECT data FROM agent_versions WHERE name = ? AND hash = ?", (name, content_hash)
            )
            .fetchone()
        )
        if row is None:
            raise NotFoundError("agent version not found", agent=name, hash=content_hash)
        return AgentVersion.model_validate_json(row[0])

    # ----------------------------------------------------------------- API keys

    def put_api_key(self, key: ApiKey) -> ApiKey:
        """See `Store.put_api_key`."""
        check_name(key.tenant, "tenant")
        key = key.model_copy(update={"created_at": key.created_at or self.clock()})
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO api_keys VALUES (?, ?, ?)",
                    (key.key_hash, key.tenant, key.model_dump_json()),
                )
        except sqlite3.IntegrityError:
            raise ConflictError("API key exists") from None
        return key

    def get_api_key(self, key_hash: str) -> ApiKey:
        """See `Store.get_api_key`."""
        row = (
            self._conn()
            .execute("SELECT data FROM api_keys WHERE key_hash = ?", (key_hash,))
            .fetchone()
        )
        if row is None:
            raise NotFoundError("API key not found")
        return ApiKey.model_validate_json(row[0])

    def revoke_api_key(self, key_hash: str) -> ApiKey:
        """See `Store.revoke_api_key`."""
        with self._tx() as conn:
            key = self.get_api_key(key_hash).model_copy(update={"revoked": True})
            conn.execute(
                "UPDATE api_keys SET data = ? WHERE key_hash = ?", (key.model_dump_json(), key_hash)
            )
        return key

    def list_api_keys(self, tenant: str) -> list[ApiKey]:
        """See `Store.list_api_keys`."""
        rows = (
            self._conn()
            .execute("SELECT data FROM api_keys WHERE tenant = ? ORDER BY key_hash", (tenant,))
            .fetchall()
        )
        return [ApiKey.model_validate_json(r[0]) for r in rows]

    # -------------------------------------------------------------------- usage

    def _add_usage(
        self,
        conn: sqlite3.Connection,
        tenant: str,
        *,
        day: str,
        agent: str,
        model: str,
        usage: Usage,
    ) -> None:
        row = conn.execute(
            "SELECT data FROM usage WHERE tenant = ? AND day = ? AND agent = ? AND model = ?",
            (tenant, day, agent, model),
        ).fetchone()
        record = (
            UsageRecord.model_validate_json(row[0])
            if row
            else UsageRecord(tenant=tenant, day=day, agent=agent, model=model)
        )
        record = record.model_copy(update={"usage": record.usage.plus(usage)})
        conn.execute(
            "INSERT OR REPLACE INTO usage VALUES (?, ?, ?, ?, ?)",
            (tenant, day, agent, model, record.model_dump_json()),
        )

    def add_usage(self, tenant: str, *, day: str, agent: str, model: str, usage: Usage) -> None:
        """See `Store.add_usage`."""
        check_name(tenant, "tenant")
        check_name(agent, "agent")
        check_model_name(model)
        with self._tx() as conn:
            self._add_usage(conn, tenant, day=day, agent=agent, model=model, usage=usage)

    def list_usage(self, tenant: str, *, since_day: str, until_day: str) -> list[UsageRecord]:
        """See `Store.list_usage`."""
        rows = (
            self._conn()
            .execute(
                "SELECT data FROM usage WHERE tenant = ? AND day BETWEEN ? AND ? "
                "ORDER BY day, agent, model",
                (tenant, since_day, until_day),
            )
            .fetchall()
        )
        return [UsageRecord.model_validate_json(r[0]) for r in rows]

    # -------------------------------------------------------------- checkpoints

    def put_checkpoint(self, checkpoint: Checkpoint, *, expected_version: int | None) -> Checkpoint:
        """See `Store.put_checkpoint`."""
        check_name(checkpoint.run_id, "run id")
        packed = self._pack_checkpoint(checkpoint)
        with self._tx() as conn:
            # the version alone, read by SQLite: not the (possibly large) execution state
            row = conn.execute(
                "SELECT json_extract(data, '$.version') FROM checkpoints WHERE run_id = ?",
                (checkpoint.run_id,),
            ).fetchone()
            actual = None if row is None else int(row[0])
            if actual != expected_version:
                raise ConflictError(
                    "checkpoint version moved", expected=expected_version, actual=actual
                )
            stored = packed.model_copy(
                update={"version": (expected_version or 0) + 1, "updated_at": self.clock()}
            )
            conn.execute(
                "INSERT OR REPLACE INTO checkpoints VALUES (?, ?, ?, ?, ?)",
                (
                    stored.run_id,
                    stored.tenant,
                    stored.session_id,
                    int(stored.terminal),
                    stored.model_dump_json(),
                ),
            )
        return self._unpack_checkpoint(stored)

    def get_checkpoint(self, run_id: str) -> Checkpoint:
        """See `Store.get_checkpoint`."""
        row = (
            self._conn()
            .execute("SELECT data FROM checkpoints WHERE run_id = ?", (run_id,))
            .fetchone()
        )
        if row is None:
            raise NotFoundError("checkpoint not found", run_id=run_id)
        return self._unpack_checkpoint(Checkpoint.model_validate_json(row[0]))

    def list_checkpoints(self, *, include_terminal: bool = False) -> list[Checkpoint]:
        """See `Store.list_checkpoints`."""
        sql = "SELECT data FROM checkpoints"
        if not include_terminal:
            sql += " WHERE terminal = 0"
        rows = self._conn().execute(sql + " ORDER BY run_id").fetchall()
        return [self._unpack_checkpoint(Checkpoint.model_validate_json(r[0])) for r in rows]

    def delete_checkpoint(self, run_id: str) -> None:
        """See `Store.delete_checkpoint`."""
        with self._tx() as conn:
            conn.execute("DELETE FROM checkpoints WHERE run_id = ?", (run_id,))

    # ------------------------------------------------------------ runner leases

    # ---------------------------------------------------------- idempotency keys

    def claim_idempotency_key(
        self,
        scope: str,
        key: str,
        *,
        fingerprint: str = "",
        lease_s: float = 300.0,
        keep_s: float = 86_400.0,
        now: float | None = None,
    ) -> IdempotencyRecord:
        """See `Store.claim_idempotency_key`."""
        now, digest = self._now(now), key_digest(key)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT data FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, digest)
            ).fetchone()
            found = IdempotencyRecord.model_validate_json(row[0]) if row else None
            record = claimed(found, scope=scope, key=digest, fingerprint=fingerprint,
                             lease_s=lease_s, keep_s=keep_s, now=now)  # fmt: skip
            if record is not found:
                conn.execute(
                    "INSERT OR REPLACE INTO idempotency_keys VALUES (?, ?, ?, ?)",
                    (scope, digest, record.expires_at, record.model_dump_json()),
                )
        return record

    def complete_idempotency_key(
        self, scope: str, key: str, result: dict[str, Any], *, now: float | None = None
    ) -> None:
        """See `Store.complete_idempotency_key`."""
        digest = key_digest(key)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT data FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, digest)
            ).fetchone()
            if row is None:
                raise NotFoundError("no claim of this idempotency key")
            record = IdempotencyRecord.model_validate_json(row[0]).model_copy(
                update={"status": "completed", "result": result, "lease_until": None}
            )
            conn.execute(
                "UPDATE idempotency_keys SET data = ? WHERE scope = ? AND key = ?",
                (record.model_dump_json(), scope, digest),
            )

    def release_idempotency_key(self, scope: str, key: str) -> None:
        """See `Store.release_idempotency_key`."""
        digest = key_digest(key)
        with self._tx() as conn:
            row = conn.execute(
                "SELECT data FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, digest)
            ).fetchone()
            if row and IdempotencyRecord.model_validate_json(row[0]).status == "in_progress":
                conn.execute(
                    "DELETE FROM idempotency_keys WHERE scope = ? AND key = ?", (scope, digest)
                )

    # ------------------------------------------------------------ runner leases

    def acquire_runner_lease(
        self, owner: str, ttl_s: float, *, now: float | None = None
    ) -> RunnerLease:
        """See `Store.acquire_runner_lease`."""
        check_name(owner, "owner")
        now = self._now(now)
        lease = RunnerLease(owner=owner, expires_at=now + ttl_s, heartbeat_at=now)
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO runners VALUES (?, ?, ?)",
                (owner, lease.expires_at, lease.model_dump_json()),
            )
        return lease

    def heartbeat(self, owner: str, ttl_s: float, *, now: float | None = None) -> RunnerLease:
        """See `Store.heartbeat`."""
        now = self._now(now)
        lease = RunnerLease(owner=owner, expires_at=now + ttl_s, heartbeat_at=now)
        with self._tx() as conn:
            cursor = conn.execute(
                "UPDATE runners SET expires_at = ?, data = ? WHERE owner = ? AND expires_at > ?",
                (lease.expires_at, lease.model_dump_json(), owner, now),
            )
            if cursor.rowcount != 1:
                raise ConflictError("runner lease expired or released", owner=owner)
        return lease

    def release_runner_lease(self, owner: str) -> None:
        """See `Store.release_runner_lease`."""
        with self._tx() as conn:
            conn.execute("DELETE FROM runners WHERE owner = ?", (owner,))

    def list_live_owners(self, *, now: float | None = None) -> list[str]:
        """See `Store.list_live_owners`."""
        rows = (
            self._conn()
            .execute(
                "SELECT owner FROM runners WHERE expires_at > ? ORDER BY owner", (self._now(now),)
            )
            .fetchall()
        )
        return [r[0] for r in rows]


def _earliest(*times: float | None) -> float | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None
