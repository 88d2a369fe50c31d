"""Event triggers: an SQS message, an EventBridge event or a schedule starts a run — once per
message key, however often it is delivered — and a finished run is published to EventBridge.

A trigger names what to run (an SQS body, an EventBridge event's `detail`, a schedule's input):

    {"agent": "weather", "input": "What's the weather in Paris?", "tenant": "acme",
     "session_id": "ticket-1234", "variables": {"units": "metric"}, "key": "order-42"}

Only `input` is required (a plain-text SQS body is taken as the input). `agent` and `tenant`
default to PODIUM_TRIGGER_AGENT and PODIUM_TRIGGER_TENANT. A trigger without `session_id`
runs in a session of its own whose id derives from the key, so a redelivery finds it again;
with one, the session is used (or created for the agent). The key is the trigger's `key`, else
the SQS message attribute `idempotency_key`, else the SQS message id (kept across
redeliveries) or the EventBridge event id; a schedule's input must carry one.

**Idempotency.** Before starting, the key is claimed with the store's idempotency keys (the
mechanism behind the API's `Idempotency-Key`, scoped `trigger:<tenant>`), one conditional
write:
- a key already completed is acknowledged, and nothing starts a second time;
- a key another delivery is working on is retried later (an SQS batch item failure);
- if the work fails before a run started, the claim is released, and the retry starts afresh;
- a claim whose holder died (its lease expired) is taken over, and the new holder first looks
  for the run the dead one may already have started (same session, same input, created after
  the first claim) before it starts one.

**Completion.** `publish_run_finished` sends a "Podium Run Finished" event to the bus named by
PODIUM_EVENT_BUS whenever a run closes (EndRun, FailRun, the reconciler): at least once, with
the run id for consumers to deduplicate.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from podium import settings
from podium.errors import ConflictError, IdempotencyInProgressError, InputError, NotFoundError
from podium.store.ids import check_name

if TYPE_CHECKING:
    from podium.engine.context import RunIds
    from podium.engine.runs import RunService
    from podium.store.base import Store
    from podium.store.models import Run

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
EVENT_SOURCE = "podium"
RUN_FINISHED = "Podium Run Finished"
"""detail-type of the event published when a run ends (succeeded, failed or cancelled)."""
RUN_REQUEST = "Podium Run Request"
"""detail-type of an EventBridge event that asks for a run (its detail is the trigger)."""

IN_PROGRESS_S = 300.0
"""How long a claim holds before another delivery may take it over (> the function timeout)."""
KEEP_S = 15 * 86_400.0
"""How long a completed key is remembered: longer than a message can live in SQS or its DLQ
(14 days at most), so a redriven message is still recognised."""
OUTPUT_PREVIEW_CHARS = 4_000


class TriggerInProgressError(ConflictError):
    """Another delivery of the same key is starting its run: retry later."""


# ----------------------------------------------------------------------------- the trigger


@dataclass(frozen=True)
class Trigger:
    """One request for a run, from whichever source."""

    agent: str
    input: Any
    key: str
    tenant: str
    session_id: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(
        cls,
        spec: Any,
        *,
        default_key: str | None,
        source: str,
        tenant: str | None = None,
        agent: str | None = None,
    ) -> Trigger:
        """A trigger from a message body or event detail; InputError if it is unusable."""
        if isinstance(spec, str | bytes):
            text = spec.decode() if isinstance(spec, bytes) else spec
            try:
                spec = json.loads(text)
            except ValueError:
                spec = {"input": text}
        if not isinstance(spec, dict):
            spec = {"input": spec}
        agent = spec.get("agent") or agent or settings.resolve(None, settings.ENV_TRIGGER_AGENT, "")
        tenant = (
            spec.get("tenant")
            or tenant
            or settings.resolve(None, settings.ENV_TRIGGER_TENANT, "default")
        )
        key = spec.get("key") or default_key
        if not agent or not isinstance(agent, str):
            raise InputError(
                f"the trigger names no agent (nor is {settings.ENV_TRIGGER_AGENT} set)"
            )
        if "input" not in spec or spec["input"] in (None, "", []):
            raise InputError("the trigger has no input")
        if not key or not isinstance(key, str) or len(key) > 1024:
            raise InputError("the trigger has no idempotency key (or one over 1,024 characters)")
        session_id = spec.get("session_id")
        if session_id is not None:
            check_name(str(session_id), "session id")
        variables, metadata = spec.get("variables") or {}, spec.get("metadata") or {}
        if not isinstance(variables, dict) or not isinstance(metadata, dict):
            raise InputError("the trigger's variables and metadata must be objects")
        return cls(
            agent=check_name(agent, "agent"),
            input=spec["input"],
            key=key,
            tenant=check_name(str(tenant), "tenant"),
            session_id=None if session_id is None else str(session_id),
            variables=variables,
            metadata={**metadata, "trigger": source, "trigger_key": key},
        )

    @property
    def own_session_id(self) -> str:
        """The session of a trigger that names none: derived from the key, so stable."""
        digest = hashlib.sha256(f"{self.tenant}\n{self.key}".encode()).hexdigest()
        return f"trg-{digest[:40]}"


# ----------------------------------------------------------------------------- the claims


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a key: ours to start (with how many attempts it has seen), or
    already completed by an earlier delivery."""

    completed: bool
    attempts: int = 1
    first_claimed_at: float = 0.0
    run_id: str | None = None
    session_id: str | None = None


class TriggerKeys:
    """Claims on trigger keys: the store's idempotency keys (one mechanism with the API's
    `Idempotency-Key`), scoped to the trigger's tenant, kept `keep_s`."""

    def __init__(
        self,
        store: Store,
        *,
        in_progress_s: float = IN_PROGRESS_S,
        keep_s: float = KEEP_S,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.store = store
        self.in_progress_s = in_progress_s
        self.keep_s = keep_s
        self.clock = clock or store.clock

    def claim(self, trigger: Trigger) -> Claim:
        """Claim the trigger's key for this delivery; TriggerInProgressError if another holds
        it."""
        try:
            record = self.store.claim_idempotency_key(
                _scope(trigger), trigger.key, lease_s=self.in_progress_s, keep_s=self.keep_s,
                now=self.clock(),
            )  # fmt: skip
        except IdempotencyInProgressError:
            raise TriggerInProgressError(
                "another delivery of this key is starting its run; retry later"
            ) from None
        if record.status == "completed":
            result = record.result or {}
            return Claim(completed=True, run_id=result.get("run_id"),
                         session_id=result.get("session_id"))  # fmt: skip
        return Claim(
            completed=False, attempts=record.attempts, first_claimed_at=record.first_claimed_at
        )

    def complete(self, trigger: Trigger, *, run_id: str, session_id: str, disposition: str) -> None:
        """Record that the key's run was started (or queued): later deliveries skip it."""
        self.store.complete_idempotency_key(
            _scope(trigger), trigger.key,
            {"run_id": run_id, "session_id": session_id, "disposition": disposition},
        )  # fmt: skip

    def release(self, trigger: Trigger) -> None:
        """Give up an in-progress claim before any run started, so a retry starts afresh."""
        self.store.release_idempotency_key(_scope(trigger), trigger.key)


def _scope(trigger: Trigger) -> str:
    return f"trigger:{trigger.tenant}"


# ----------------------------------------------------------------------------- starting


@dataclass(frozen=True)
class TriggerResult:
    outcome: Literal["started", "queued", "duplicate", "recovered"]
    run_id: str | None
    session_id: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, "run_id": self.run_id, "session_id": self.session_id}


def start_trigger(service: RunService, keys: TriggerKeys, trigger: Trigger) -> TriggerResult:
    """Start the trigger's run unless its key already did."""
    claim = keys.claim(trigger)
    if claim.completed:
        log.info(
            "key=%s run_id=%s | duplicate delivery: the run was already started",
            trigger.key, claim.run_id,
        )  # fmt: skip
        return TriggerResult("duplicate", claim.run_id, claim.session_id)
    try:
        session_id = _session(service, trigger)
        if claim.attempts > 1:
            found = _started_by_earlier_attempt(service, trigger, session_id, claim)
            if found is not None:
                keys.complete(trigger, run_id=found.run_id, session_id=session_id,
                              disposition="recovered")  # fmt: skip
                return TriggerResult("recovered", found.run_id, session_id)
        started = service.start_run(
            trigger.tenant, session_id, trigger.input, metadata=trigger.metadata
        )
    except Exception:
        keys.release(trigger)
        raise
    keys.complete(
        trigger,
        run_id=started.run.run_id,
        session_id=session_id,
        disposition=started.disposition,
    )
    log.info(
        "key=%s session_id=%s run_id=%s disposition=%s | run started by a trigger",
        trigger.key, session_id, started.run.run_id, started.disposition,
    )  # fmt: skip
    return TriggerResult(started.disposition, started.run.run_id, session_id)


def _session(service: RunService, trigger: Trigger) -> str:
    session_id = trigger.session_id or trigger.own_session_id
    store = service.rt.store
    try:
        session = store.get_session(trigger.tenant, session_id)
    except NotFoundError:
        with contextlib.suppress(ConflictError):  # another delivery may create it first
            service.create_session(
                trigger.tenant, trigger.agent, variables=trigger.variables,
                metadata={"trigger": trigger.metadata.get("trigger")}, session_id=session_id,
            )  # fmt: skip
        return session_id
    if session.agent != trigger.agent:
        raise InputError(
            f"session {session_id!r} belongs to agent {session.agent!r}, not {trigger.agent!r}"
        )
    return session_id


def _started_by_earlier_attempt(
    service: RunService, trigger: Trigger, session_id: str, claim: Claim
) -> Run | None:
    """The run an earlier, dead holder of the claim started, if it got that far."""
    runs = service.rt.store.list_runs(trigger.tenant, session_id, limit=50).items
    for run in runs:
        if run.created_at >= claim.first_claimed_at - 1.0 and run.input == trigger.input:
            return run
    return None


# ----------------------------------------------------------------------------- handlers


class TriggerProcessor:
    """Turns SQS batches, EventBridge events and schedule inputs into started runs."""

    def __init__(self, service: RunService, keys: TriggerKeys) -> None:
        self.service = service
        self.keys = keys

    @classmethod
    def from_environment(cls) -> TriggerProcessor:
        from podium.engine.runs import RunService  # noqa: PLC0415
        from podium.engine.runtime import get_runtime  # noqa: PLC0415

        runtime = get_runtime()
        return cls(RunService(runtime), TriggerKeys(runtime.store))

    def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """An SQS batch, an EventBridge event, or a direct input (a schedule's)."""
        if isinstance(event.get("Records"), list):
            return self.handle_sqs(event)
        if "detail-type" in event:
            trigger = Trigger.parse(
                event.get("detail") or {}, default_key=f"event:{event.get('id')}",
                source=f"eventbridge:{event.get('source')}",
            )  # fmt: skip
            return start_trigger(self.service, self.keys, trigger).to_dict()
        trigger = Trigger.parse(event, default_key=None, source="invoke")
        return start_trigger(self.service, self.keys, trigger).to_dict()

    def handle_sqs(self, event: dict[str, Any]) -> dict[str, Any]:
        """Each message on its own; the failed ones are reported for redelivery (partial batch
        response). On a FIFO queue, a failure fails the rest of the batch too, to keep order."""
        failures: list[dict[str, str]] = []
        for record in event["Records"]:
            message_id = str(record.get("messageId"))
            fifo = str(record.get("eventSourceARN", "")).endswith(".fifo")
            if failures and fifo:
                failures.append({"itemIdentifier": message_id})
                continue
            try:
                trigger = Trigger.parse(
                    record.get("body", ""),
                    default_key=_message_key(record),
                    source="sqs",
                )
                start_trigger(self.service, self.keys, trigger)
            except ConflictError as exc:
                log.warning("message_id=%s | not started yet, will retry: %s", message_id, exc)
                failures.append({"itemIdentifier": message_id})
            except Exception as exc:
                log.exception(
                    "message_id=%s receive_count=%s | the message failed (%s); after the "
                    "queue's maxReceiveCount it moves to the dead-letter queue",
                    message_id,
                    (record.get("attributes") or {}).get("ApproximateReceiveCount"),
                    type(exc).__name__,
                )
                failures.append({"itemIdentifier": message_id})
        return {"batchItemFailures": failures}


def _message_key(record: dict[str, Any]) -> str | None:
    attributes = record.get("messageAttributes") or {}
    explicit = (attributes.get("idempotency_key") or {}).get("stringValue")
    if explicit:
        return str(explicit)
    message_id = record.get("messageId")
    return f"sqs:{message_id}" if message_id else None


_processor: TriggerProcessor | None = None
_processor_lock = threading.Lock()


def handler(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The trigger function's Lambda handler (SQS, EventBridge rule, EventBridge Scheduler)."""
    global _processor  # noqa: PLW0603 - built once per Lambda container
    with _processor_lock:
        if _processor is None:
            _processor = TriggerProcessor.from_environment()
        processor = _processor
    return processor.handle(event)


def reset() -> None:
    """Forget the processor and the events client built from the environment (tests)."""
    global _processor, _events  # noqa: PLW0603
    with _processor_lock:
        _processor = None
        _events = None


# ----------------------------------------------------------------------------- completion

_events: Any = None


def set_events_client(client: Any) -> None:
    """Use this boto3 EventBridge client for completion events (tests, custom config)."""
    global _events  # noqa: PLW0603
    _events = client


def _events_client() -> Any:
    global _events  # noqa: PLW0603
    if _events is None:
        import boto3  # noqa: PLC0415
        from botocore.config import Config  # noqa: PLC0415

        _events = boto3.client(
            "events",
            config=Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3}),
        )
    return _events


def run_finished_detail(ids: RunIds, run: Run) -> dict[str, Any]:
    """The detail of a "Podium Run Finished" event: ids, outcome, usage, and the answer's
    text cut to a preview (the full output stays in the store)."""
    output: dict[str, Any] | None = None
    if isinstance(run.output, dict):
        text = str(run.output.get("text") or "")
        output = {
            "text": text[:OUTPUT_PREVIEW_CHARS],
            "truncated": len(text) > OUTPUT_PREVIEW_CHARS,
            "partial": bool(run.output.get("partial")),
        }
    usage = run.usage
    return {
        "schema_version": SCHEMA_VERSION,
        "tenant": ids.tenant,
        "session_id": ids.session_id,
        "run_id": ids.run_id,
        "agent": ids.agent,
        "agent_hash": ids.agent_hash,
        "status": run.status,
        "error": run.error,
        "output": output,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cost_usd": usage.cost_usd,
            "model_calls": usage.requests,
        },
        "created_at": run.created_at,
        "finished_at": run.updated_at,
    }


def publish_run_finished(ids: RunIds, run: Run, *, bus: str | None = None) -> bool:
    """Send "Podium Run Finished" to the bus (PODIUM_EVENT_BUS). Never raises: a run's close
    must not fail because a notification did; returns whether the event was accepted."""
    bus = bus or settings.resolve(None, settings.ENV_EVENT_BUS, "")
    if not bus:
        return False
    entry = {
        "Source": EVENT_SOURCE,
        "DetailType": RUN_FINISHED,
        "Detail": json.dumps(run_finished_detail(ids, run), default=str),
        "EventBusName": bus,
    }
    try:
        response = _events_client().put_events(Entries=[entry])
    except Exception:
        log.exception("run_id=%s bus=%s | could not publish the run's completion", ids.run_id, bus)
        return False
    if response.get("FailedEntryCount"):
        log.error(
            "run_id=%s bus=%s error=%s | EventBridge refused the completion event",
            ids.run_id, bus, response.get("Entries"),
        )  # fmt: skip
        return False
    return True
