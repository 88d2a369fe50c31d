"""The items the store keeps, as pydantic models; every one carries a `schema_version`.

Times are epoch seconds (floats). Costs are integers in micro-USD (1 USD = 1,000,000):
counters are added atomically many times per run, and integers do not drift the way
floats do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = 1

Role = Literal["system", "user", "assistant", "tool"]
RunStatus = Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled"]
TERMINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
SpanKind = Literal["run", "step", "model", "tool", "approval", "attempt"]

T = TypeVar("T")


class StoreModel(BaseModel):
    """Base of every persisted item: unknown fields from newer writers are ignored."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    schema_version: int = SCHEMA_VERSION
    """Version of this item's schema, so readers can migrate old items."""


class BlobRef(BaseModel):
    """Where a large payload went, plus a head-and-tail preview kept in the item."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    key: str
    """The blob store key."""
    size: int
    """Size in bytes of the stored payload (its JSON encoding)."""
    sha256: str
    """Digest of the stored bytes."""
    preview: str
    """The first and last characters of the payload's text, with the omission marked."""


USAGE_FIELDS: tuple[str, ...] = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "reasoning_tokens",
    "cost_micro_usd",
)


class Usage(BaseModel):
    """Token and cost counters, added atomically."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    requests: int = 0
    """Number of model calls."""
    input_tokens: int = 0
    output_tokens: int = 0
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cost_micro_usd: int = 0
    """Cost in micro-USD (integer, so repeated atomic additions never drift)."""

    def plus(self, other: Usage) -> Usage:
        """Return the field-wise sum."""
        return Usage(**{name: getattr(self, name) + getattr(other, name) for name in USAGE_FIELDS})

    @property
    def cost_usd(self) -> float:
        """The cost in USD, for display."""
        return self.cost_micro_usd / 1_000_000


class Lease(BaseModel):
    """The session's single-writer lease, held by one run until it expires."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    run_id: str
    expires_at: float


class QueuedInput(StoreModel):
    """An input waiting on the session for the active run to end (`on_conflict: enqueue`)."""

    run_id: str
    """The id the run will have when it starts."""
    input: Any = None
    """The user's input (None when moved to the blob store: see `input_ref`)."""
    input_ref: BlobRef | None = None
    queued_at: float = 0.0
    metadata: dict[str, Any] = Field(default_factory=dict)


class Session(StoreModel):
    """A conversation: the META item of its partition."""

    tenant: str
    session_id: str
    agent: str
    agent_hash: str
    """Content hash of the agent definition the session started with."""
    input_vars: dict[str, Any] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)
    created_at: float
    updated_at: float
    expires_at: float | None = None
    """When the session and everything in it expire (None: kept until deleted)."""
    version: int = 1
    """Optimistic version: bumped by every change of metadata, lease or queue."""
    last_seq: int = 0
    """Sequence number of the newest message."""
    lease: Lease | None = None
    queue: list[QueuedInput] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    """Totals over all runs of the session."""

    def lease_holder(self, now: float) -> str | None:
        """The run id holding an unexpired lease at `now`, if any."""
        if self.lease is not None and self.lease.expires_at > now:
            return self.lease.run_id
        return None


class Message(StoreModel):
    """One message of a session, OpenAI-chat shaped, plus its sequence number."""

    role: Role
    content: Any = None
    """Text, or a list of content parts (None when moved to the blob store: see content_ref)."""
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None
    name: str | None = None
    run_id: str | None = None
    seq: int = 0
    """Assigned by the store: strictly increasing within a session."""
    created_at: float = 0.0
    content_ref: BlobRef | None = None
    """Set when the content was moved to the blob store (the item would be too large)."""
    tool_calls_ref: BlobRef | None = None
    """Set when the tool calls were moved to the blob store; they are always read back."""
    expires_at: float | None = None
    tokens: int | None = None
    """Its token count, counted once when it was written (context windows sum these)."""

    def to_chat(self, *, preview_if_offloaded: bool = True) -> dict[str, Any]:
        """The message as litellm/OpenAI chat input."""
        content = self.content
        if content is None and self.content_ref is not None and preview_if_offloaded:
            content = (
                f"{self.content_ref.preview}\n[output truncated: {self.content_ref.size} bytes "
                "stored in full]"
            )
        out: dict[str, Any] = {"role": self.role, "content": content}
        if self.tool_calls:
            out["tool_calls"] = self.tool_calls
        if self.tool_call_id is not None:
            out["tool_call_id"] = self.tool_call_id
        if self.name is not None:
            out["name"] = self.name
        return out


class Summary(StoreModel):
    """A summary standing in for messages `from_seq`..`to_seq` in context windows.

    Stored beside the history, never in place of it: the messages it covers stay as they are.
    """

    session_id: str
    from_seq: int
    to_seq: int
    content: str
    model: str
    """The model that wrote it."""
    created_at: float = 0.0
    expires_at: float | None = None

    def to_chat(self) -> dict[str, Any]:
        """The summary as a system message for the model's input."""
        return {
            "role": "system",
            "content": f"Summary of the earlier conversation (messages {self.from_seq}-"
            f"{self.to_seq}):\n{self.content}",
        }


class PendingApproval(BaseModel):
    """A tool call waiting on a person (`approval`) or the caller (`client`), with its token."""

    model_config = ConfigDict(extra="ignore", defer_build=True)

    call_id: str
    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    task_token: str
    """The Step Functions (or local executor) task token that resumes the run."""
    kind: Literal["approval", "client"] = "approval"
    requested_at: float = 0.0


class Run(StoreModel):
    """One user input carried to a final answer."""

    tenant: str
    session_id: str
    run_id: str
    agent: str
    agent_hash: str
    """Content hash of the agent definition this run is pinned to."""
    status: RunStatus = "queued"
    step: int = 0
    """The model step the run is at (1 is the first)."""
    step_attempt: int = 0
    """Which attempt of that step is (or was last) running: a retried step streams anew."""
    step_result: dict[str, Any] | None = None
    """The step's outcome once it is stored, so a redelivered step returns it unchanged."""
    execution_ref: str | None = None
    """Step Functions execution ARN, or the local executor's reference."""
    input: Any = None
    input_ref: BlobRef | None = None
    output: Any = None
    output_ref: BlobRef | None = None
    error: dict[str, Any] | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    started_at: float | None = None
    """When BeginRun began the run: its clock starts here, not while it was queued."""
    waited_s: float = 0.0
    """Seconds the run has waited on a person (approvals) or the caller (client tools), which
    its clock (`max_run_seconds`) does not count."""
    waiting_since: float | None = None
    """When the run's current wait began (None: it is not waiting)."""
    version: int = 1
    usage: Usage = Field(default_factory=Usage)
    pending_approvals: dict[str, PendingApproval] = Field(default_factory=dict)
    expires_at: float | None = None

    @property
    def terminal(self) -> bool:
        """Whether the run has ended."""
        return self.status in TERMINAL_STATUSES

    def work_seconds(self, now: float) -> float:
        """The run's clock: time since it began, less the time it waited on people and
        callers (up to `now`)."""
        if self.started_at is None:
            return 0.0
        waiting = now - self.waiting_since if self.waiting_since is not None else 0.0
        return max(0.0, now - self.started_at - self.waited_s - waiting)


class IdempotencyRecord(StoreModel):
    """One idempotency key: the work it names is at work (its claim held until
    `lease_until`), or done, with its result kept until `expires_at`."""

    scope: str
    """Where the key is unique: e.g. `api:<tenant>`, `trigger:<tenant>`."""
    key: str
    """The key's digest (a sha-256 of what the client sent)."""
    status: Literal["in_progress", "completed"] = "in_progress"
    fingerprint: str = ""
    """The request's digest: the same key sent with another request is refused."""
    attempts: int = 1
    """How many claims the key has seen (a claim taken over after its holder died counts)."""
    first_claimed_at: float = 0.0
    lease_until: float | None = None
    expires_at: float = 0.0
    result: dict[str, Any] | None = None
    """What the first completed attempt answered (a run's and session's ids, a response)."""


class Event(StoreModel):
    """One entry of the session's durable event log (an SSE part)."""

    event_id: str
    """`<run>.<step:04d>.<attempt:02d>.<seq:06d>` (see `podium.store.ids.event_id`)."""
    run_id: str
    type: str
    data: Any = None
    data_ref: BlobRef | None = None
    created_at: float = 0.0
    expires_at: float | None = None


class Span(StoreModel):
    """One span of a run's trace."""

    span_id: str
    parent_id: str | None = None
    run_id: str
    kind: SpanKind
    name: str
    start: float
    end: float | None = None
    status: Literal["running", "ok", "error"] = "running"
    error: dict[str, Any] | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    expires_at: float | None = None


class Checkpoint(StoreModel):
    """The local executor's state for one run, versioned for conditional writes."""

    run_id: str
    tenant: str
    session_id: str
    owner: str
    """The runner holding the run."""
    state: Any = None
    state_ref: BlobRef | None = None
    version: int = 1
    terminal: bool = False
    updated_at: float = 0.0


class RunnerLease(StoreModel):
    """A local runner's ownership lease, renewed by heartbeats."""

    owner: str
    expires_at: float
    heartbeat_at: float


class AgentVersion(StoreModel):
    """An agent definition stored by its content hash."""

    name: str
    hash: str
    definition: dict[str, Any]
    created_at: float = 0.0


class ApiKey(StoreModel):
    """An API key, stored by the sha256 of the secret (the secret itself is never stored)."""

    key_hash: str
    tenant: str
    name: str = ""
    scopes: list[str] = Field(default_factory=list)
    revoked: bool = False
    rate_limit_per_min: int | None = None
    created_at: float = 0.0


class UsageRecord(StoreModel):
    """Usage counters of one tenant for one day, agent and model."""

    tenant: str
    day: str
    """UTC day, `YYYY-MM-DD`."""
    agent: str
    model: str
    usage: Usage = Field(default_factory=Usage)


@dataclass
class Page(Generic[T]):
    """One page of a listing; pass `cursor` back for the next page (None: no more)."""

    items: list[T] = field(default_factory=list)
    cursor: str | None = None
