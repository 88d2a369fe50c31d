"""The Store: the one interface through which Podium remembers anything.

Two implementations are held to one contract suite (`tests/contract/`): `SqliteStore`
(local, embedded, durable across restarts) and `DynamoStore` (AWS: one table with GSI1,
large payloads in S3).

Conventions every implementation keeps:
- Every session-scoped method takes the tenant explicitly; a wrong tenant behaves exactly as
  a missing session (NotFoundError), and cursors are bound to tenant and listing.
- Expired items (past their `expires_at`) are filtered on read: DynamoDB deletes them only
  within about two days of expiry.
- Conditional writes lose with ConflictError; a missing thing is NotFoundError.
- A listing page may hold fewer than `limit` items even when more follow: read until the
  cursor is None.
- Payloads over the blob threshold go to the blob store; readers get them back transparently
  (`hydrate=True`), or see the reference and its head-and-tail preview (`hydrate=False`).
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from podium.errors import InputError
from podium.store.ids import check_name
from podium.store.models import (
    Checkpoint,
    Event,
    Message,
    QueuedInput,
    Run,
)
from podium.store.payloads import DEFAULT_BLOB_THRESHOLD, dumps, load, offload, session_prefix

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from podium.store.blobs import BlobStore
    from podium.store.models import (
        AgentVersion,
        ApiKey,
        IdempotencyRecord,
        Page,
        PendingApproval,
        RunnerLease,
        Session,
        Span,
        Summary,
        Usage,
        UsageRecord,
    )

DEFAULT_MAX_QUEUE = 20
"""Queued inputs a session holds at most (`on_conflict: enqueue`); beyond, ConflictError."""
DEFAULT_MAX_PENDING_APPROVALS = 40
"""Pending approvals per run at most (Step Functions' inline Map runs ≤ 40 concurrently)."""
QUEUED_INPUT_THRESHOLD = 16 * 1024
"""Queued inputs larger than this go to the blob store: the queue lives in the session item."""


class Store(ABC):
    """Sessions, messages, runs, events, traces, keys, usage, agent versions, checkpoints."""

    def __init__(
        self,
        *,
        blobs: BlobStore,
        blob_threshold: int = DEFAULT_BLOB_THRESHOLD,
        clock: Callable[[], float] | None = None,
        max_queue: int = DEFAULT_MAX_QUEUE,
        max_pending_approvals: int = DEFAULT_MAX_PENDING_APPROVALS,
    ) -> None:
        self.blobs = blobs
        self.blob_threshold = blob_threshold
        self.clock: Callable[[], float] = clock or time.time
        self.max_queue = max_queue
        self.max_pending_approvals = max_pending_approvals

    # ----------------------------------------------------------------- sessions

    @abstractmethod
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
        """Create a session (ConflictError if the id exists). `retention_s` counts from now:
        the session and everything in it expire together."""

    @abstractmethod
    def get_session(self, tenant: str, session_id: str) -> Session:
        """Return the session; NotFoundError if missing, expired or another tenant's."""

    @abstractmethod
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
        """A tenant's sessions, most recently updated first, optionally for one agent and
        within `[updated_after, updated_before)`."""

    @abstractmethod
    def update_session(
        self,
        tenant: str,
        session_id: str,
        *,
        expected_version: int,
        metadata: dict[str, Any] | None = None,
        agent_hash: str | None = None,
    ) -> Session:
        """Replace metadata and/or the agent hash if the version is still `expected_version`
        (else ConflictError); bumps the version."""

    @abstractmethod
    def delete_session(self, tenant: str, session_id: str) -> None:
        """Delete the session with all its items and blobs (NotFoundError if missing)."""

    # ------------------------------------------------------------ lease & queue

    @abstractmethod
    def acquire_session_lease(
        self, tenant: str, session_id: str, run_id: str, ttl_s: float, *, now: float | None = None
    ) -> Session:
        """Take the one-writer lease for `run_id` if nobody holds it or it has expired (the
        holder itself may renew). ConflictError (details: holder) when another run holds it."""

    @abstractmethod
    def renew_session_lease(
        self, tenant: str, session_id: str, run_id: str, ttl_s: float, *, now: float | None = None
    ) -> Session:
        """Hold the lease for `run_id` until at least `now + ttl_s`: extend it, never shorten
        it, and renew it even if it expired while nobody took it. ConflictError (details:
        holder) when the lease is released or held by another run. Returns the session."""

    @abstractmethod
    def release_session_lease(
        self,
        tenant: str,
        session_id: str,
        run_id: str,
        *,
        handoff_ttl_s: float | None = None,
        now: float | None = None,
    ) -> QueuedInput | None:
        """Release the lease if `run_id` holds it (ConflictError otherwise).

        With `handoff_ttl_s` and a non-empty queue, the first queued input is popped and the
        lease handed to its run in the same atomic write; it is returned so the caller can
        start that run. Otherwise returns None."""

    @abstractmethod
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
        """Give the lease to `run_id` if `expected_holder` still holds it (`interrupt`);
        ConflictError if the lease moved."""

    @abstractmethod
    def enqueue_input(self, tenant: str, session_id: str, queued: QueuedInput) -> Session:
        """Append an input to the session's queue; ConflictError when the queue is full."""

    @abstractmethod
    def pop_queued_input(self, tenant: str, session_id: str) -> QueuedInput | None:
        """Remove and return the oldest queued input (None when empty), atomically."""

    # ----------------------------------------------------------------- messages

    @abstractmethod
    def append_message(
        self, tenant: str, session_id: str, message: Message, *, idempotency_key: str | None = None
    ) -> Message:
        """Store a message with the next sequence number and return it as stored.

        With an `idempotency_key`, appending again with the same key returns the first
        copy instead of storing a second (a retried step)."""

    @abstractmethod
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
        """A page of messages in sequence order (or newest first); reads only that page."""

    @abstractmethod
    def get_messages(
        self, tenant: str, session_id: str, from_seq: int, to_seq: int, *, hydrate: bool = True
    ) -> list[Message]:
        """The messages with `from_seq <= seq <= to_seq`, in order."""

    @abstractmethod
    def put_summary(self, tenant: str, session_id: str, summary: Summary) -> Summary:
        """Store a context summary (the history itself is never altered)."""

    @abstractmethod
    def get_summary(self, tenant: str, session_id: str) -> Summary | None:
        """The summary covering the most messages, if any."""

    # --------------------------------------------------------------------- runs

    @abstractmethod
    def create_run(self, run: Run) -> Run:
        """Store a new run; idempotent on run id (returns the stored run if it exists)."""

    @abstractmethod
    def get_run(self, tenant: str, session_id: str, run_id: str, *, hydrate: bool = True) -> Run:
        """Return a run (NotFoundError if missing)."""

    @abstractmethod
    def list_runs(
        self, tenant: str, session_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Run]:
        """A session's runs, newest first."""

    @abstractmethod
    def update_run(self, run: Run, *, expected_version: int) -> Run:
        """Write status, step, execution, output, error… if the stored version is still
        `expected_version` (else ConflictError). Usage counters and pending approvals are not
        touched: they have their own atomic operations."""

    @abstractmethod
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
        """Add usage atomically to the run, the session's totals and the tenant's daily
        counter for (agent, model) — all or nothing. With an idempotency key, a repeated
        call adds nothing. Returns the run's new totals."""

    @abstractmethod
    def add_pending_approval(
        self, tenant: str, session_id: str, run_id: str, approval: PendingApproval
    ) -> None:
        """Record a tool call waiting with its task token (idempotent on call id);
        ConflictError beyond `max_pending_approvals`."""

    @abstractmethod
    def resolve_pending_approval(
        self, tenant: str, session_id: str, run_id: str, call_id: str
    ) -> PendingApproval:
        """Remove and return a pending approval; NotFoundError if already resolved, so two
        concurrent decisions cannot both win."""

    # ------------------------------------------------------------------- events

    @abstractmethod
    def append_events(
        self, tenant: str, session_id: str, events: Sequence[Event], *, ttl_s: float | None = None
    ) -> int:
        """Append events; an id already stored is skipped, never overwritten. Returns how
        many were new. `ttl_s` sets an expiry earlier than the session's."""

    @abstractmethod
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
        """Events in id order after the event id `after` (exclusive), for the session or
        one run."""

    # -------------------------------------------------------------------- spans

    @abstractmethod
    def put_span(self, tenant: str, session_id: str, span: Span) -> None:
        """Create or replace a span (a span is written when it starts and when it ends)."""

    def put_spans(self, tenant: str, session_id: str, spans: Sequence[Span]) -> None:
        """Create or replace several spans of one session at once (one write where the store
        can). A store overrides this; the default writes them one by one."""
        for span in spans:
            self.put_span(tenant, session_id, span)

    @abstractmethod
    def list_spans(self, tenant: str, session_id: str, run_id: str) -> list[Span]:
        """A run's spans, by span id."""

    # ----------------------------------------------------------- agent versions

    @abstractmethod
    def put_agent_version(self, name: str, definition: dict[str, Any]) -> AgentVersion:
        """Store a definition under its content hash (idempotent) and return it."""

    @abstractmethod
    def get_agent_version(self, name: str, content_hash: str) -> AgentVersion:
        """Load the definition a session or run is pinned to."""

    # ----------------------------------------------------------------- API keys

    @abstractmethod
    def put_api_key(self, key: ApiKey) -> ApiKey:
        """Store a key by hash (ConflictError if that hash exists)."""

    @abstractmethod
    def get_api_key(self, key_hash: str) -> ApiKey:
        """Look a key up by hash (revoked keys are returned with `revoked=True`)."""

    @abstractmethod
    def revoke_api_key(self, key_hash: str) -> ApiKey:
        """Mark a key revoked."""

    @abstractmethod
    def list_api_keys(self, tenant: str) -> list[ApiKey]:
        """A tenant's keys."""

    # -------------------------------------------------------------------- usage

    @abstractmethod
    def add_usage(self, tenant: str, *, day: str, agent: str, model: str, usage: Usage) -> None:
        """Add to the tenant's counters for a day, agent and model (atomic)."""

    @abstractmethod
    def list_usage(self, tenant: str, *, since_day: str, until_day: str) -> list[UsageRecord]:
        """Counters for the days `since_day..until_day` (inclusive, `YYYY-MM-DD`)."""

    # -------------------------------------------------------------- checkpoints

    @abstractmethod
    def put_checkpoint(self, checkpoint: Checkpoint, *, expected_version: int | None) -> Checkpoint:
        """Write a run's executor state: create when `expected_version` is None, else only if
        the stored version matches (ConflictError otherwise). The stored version is
        `expected_version + 1` (1 on create)."""

    @abstractmethod
    def get_checkpoint(self, run_id: str) -> Checkpoint:
        """A run's checkpoint (NotFoundError if none)."""

    @abstractmethod
    def list_checkpoints(self, *, include_terminal: bool = False) -> list[Checkpoint]:
        """Checkpoints of runs still in flight (all with `include_terminal`)."""

    @abstractmethod
    def delete_checkpoint(self, run_id: str) -> None:
        """Forget a run's checkpoint."""

    # ---------------------------------------------------------- idempotency keys

    @abstractmethod
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
        """Claim `key` within `scope` for one attempt at its work, atomically.

        Returns the record: `in_progress` when the caller now holds it (first claim, or one
        whose holder let its lease pass: `attempts` tells), or `completed` with the first
        attempt's result. IdempotencyInProgressError while another attempt holds it;
        IdempotencyKeyReusedError when it was claimed for another `fingerprint`."""

    @abstractmethod
    def complete_idempotency_key(
        self, scope: str, key: str, result: dict[str, Any], *, now: float | None = None
    ) -> None:
        """Record the work's result: later claims return it, for `keep_s` from the claim."""

    @abstractmethod
    def release_idempotency_key(self, scope: str, key: str) -> None:
        """Give up an in-progress claim whose work did not happen: the next claim is a first
        one. A completed key stays completed."""

    # ------------------------------------------------------------ runner leases

    @abstractmethod
    def acquire_runner_lease(
        self, owner: str, ttl_s: float, *, now: float | None = None
    ) -> RunnerLease:
        """Register a runner, or renew its own lease. Owner ids must be unique per runner
        process (e.g. host, pid and a random part)."""

    @abstractmethod
    def heartbeat(self, owner: str, ttl_s: float, *, now: float | None = None) -> RunnerLease:
        """Extend a runner's lease; ConflictError if it expired or was released."""

    @abstractmethod
    def release_runner_lease(self, owner: str) -> None:
        """Remove a runner's lease (on clean shutdown): its runs may be resumed at once."""

    @abstractmethod
    def list_live_owners(self, *, now: float | None = None) -> list[str]:
        """Runners whose leases have not expired. A run owned by any other runner — expired,
        released, or never registered — may be resumed by a live one."""

    # ------------------------------------------------------------------ general

    def close(self) -> None:  # noqa: B027 — optional hook
        """Release connections."""

    # ------------------------------------------------ shared helpers (protected)

    def _now(self, now: float | None = None) -> float:
        return self.clock() if now is None else now

    @staticmethod
    def _check_session_key(tenant: str, session_id: str) -> None:
        check_name(tenant, "tenant")
        check_name(session_id, "session id")

    @staticmethod
    def _check_limit(limit: int, maximum: int = 1000) -> int:
        if not 1 <= limit <= maximum:
            raise InputError(f"limit must be within 1..{maximum}", limit=limit)
        return limit

    @staticmethod
    def _alive(expires_at: float | None, now: float) -> bool:
        return expires_at is None or expires_at > now

    def _prefix(self, tenant: str, session_id: str) -> str:
        return session_prefix(tenant, session_id)

    def _pack_message(self, tenant: str, session_id: str, message: Message) -> Message:
        """Offload what makes the message too large for an item: its content, its tool calls,
        or both (the larger first), each to the blob store with a reference."""
        parts = {"content": message.content, "tool_calls": message.tool_calls}
        sizes = {name: len(dumps(value).encode()) for name, value in parts.items() if value}
        total = sum(sizes.values())
        updates: dict[str, Any] = {}
        for name in sorted(sizes, key=lambda part: sizes[part], reverse=True):
            if total <= self.blob_threshold:
                break
            value = parts[name]
            text = value if isinstance(value, str) else None
            _, ref = offload(
                value,
                blobs=self.blobs,
                prefix=self._prefix(tenant, session_id),
                kind="msg",
                threshold=0,
                preview_text=text,
            )
            updates |= {name: None, f"{name}_ref": ref}
            total -= sizes[name]
        return message.model_copy(update=updates) if updates else message

    def _unpack_message(self, message: Message, hydrate: bool) -> Message:
        """Read offloaded content back when asked (`hydrate`), and offloaded tool calls always
        (a conversation is not valid without them)."""
        updates: dict[str, Any] = {}
        if hydrate and message.content_ref is not None and message.content is None:
            updates["content"] = load(message.content_ref, self.blobs)
        if message.tool_calls_ref is not None and message.tool_calls is None:
            updates["tool_calls"] = load(message.tool_calls_ref, self.blobs)
        return message.model_copy(update=updates) if updates else message

    def _pack_event(self, tenant: str, session_id: str, event: Event) -> Event:
        value, ref = offload(
            event.data,
            blobs=self.blobs,
            prefix=self._prefix(tenant, session_id),
            kind="evt",
            threshold=self.blob_threshold,
        )
        return event if ref is None else event.model_copy(update={"data": value, "data_ref": ref})

    def _unpack_event(self, event: Event, hydrate: bool) -> Event:
        if hydrate and event.data_ref is not None and event.data is None:
            return event.model_copy(update={"data": load(event.data_ref, self.blobs)})
        return event

    def _pack_run(self, run: Run) -> Run:
        """Offload a large input or output; a payload already offloaded keeps its reference."""
        prefix = self._prefix(run.tenant, run.session_id)
        updates: dict[str, Any] = {}
        for name in ("input", "output"):
            if getattr(run, f"{name}_ref") is not None:
                updates[name] = None
                continue
            value, ref = offload(
                getattr(run, name),
                blobs=self.blobs,
                prefix=prefix,
                kind="run",
                threshold=self.blob_threshold,
            )
            if ref is not None:
                updates.update({name: value, f"{name}_ref": ref})
        return run.model_copy(update=updates) if updates else run

    def _unpack_run(self, run: Run, hydrate: bool) -> Run:
        if not hydrate:
            return run
        if run.input_ref is not None and run.input is None:
            run = run.model_copy(update={"input": load(run.input_ref, self.blobs)})
        if run.output_ref is not None and run.output is None:
            run = run.model_copy(update={"output": load(run.output_ref, self.blobs)})
        return run

    def _pack_queued(self, tenant: str, session_id: str, queued: QueuedInput) -> QueuedInput:
        value, ref = offload(
            queued.input,
            blobs=self.blobs,
            prefix=self._prefix(tenant, session_id),
            kind="queue",
            threshold=min(self.blob_threshold, QUEUED_INPUT_THRESHOLD),
        )
        if ref is None:
            return queued
        return queued.model_copy(update={"input": value, "input_ref": ref})

    def _unpack_queued(self, queued: QueuedInput | None) -> QueuedInput | None:
        if queued is not None and queued.input_ref is not None and queued.input is None:
            return queued.model_copy(update={"input": load(queued.input_ref, self.blobs)})
        return queued

    def _pack_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint:
        value, ref = offload(
            checkpoint.state,
            blobs=self.blobs,
            prefix=self._prefix(checkpoint.tenant, checkpoint.session_id),
            kind="ckpt",
            threshold=self.blob_threshold,
        )
        if ref is None:
            return checkpoint.model_copy(update={"state_ref": None})
        return checkpoint.model_copy(update={"state": value, "state_ref": ref})

    def _unpack_checkpoint(self, checkpoint: Checkpoint) -> Checkpoint:
        if checkpoint.state_ref is not None and checkpoint.state is None:
            return checkpoint.model_copy(update={"state": load(checkpoint.state_ref, self.blobs)})
        return checkpoint
