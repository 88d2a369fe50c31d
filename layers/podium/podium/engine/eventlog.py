"""Writing a run's events to the durable log, and telling local readers at once.

Every event goes to the store first; SSE readers replay from the log and then follow it.
Ids are `<run>.<step>.<attempt>.<seq>` and a run has one writer at a time (the state machine
runs its steps one after another), so ids increase in the order events become visible — which
is what makes `Last-Event-ID` resume exact. Each writer has its own lane of ids:

| writer        | step            | attempt             |
|---------------|-----------------|---------------------|
| BeginRun      | 0               | 0                   |
| ModelStep n   | n               | the step's attempt  |
| RecordTools n | n               | 99 (after any attempt of step n) |
| EndRun        | 9999            | 0                   |
| FailRun / reconciler | 9999     | 1                   |

A retried writer rewrites the same ids; the store keeps the first copy, so nothing is ever
duplicated or overwritten.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from podium.store.ids import MAX_ATTEMPT, MAX_STEP, event_id
from podium.store.models import Event

if TYPE_CHECKING:
    from podium.store.base import Store

BEGIN_LANE = (0, 0)
RECORD_ATTEMPT = MAX_ATTEMPT
END_LANE = (MAX_STEP, 0)
FAIL_LANE = (MAX_STEP, 1)

Listener = Callable[[str, str], None]
EventListener = Callable[[list[Event]], None]


class EventBus:
    """In-process notification that a session's log grew (the local server's SSE routes
    listen here, so new events reach them with no polling delay)."""

    def __init__(self) -> None:
        self._listeners: dict[tuple[str, str], list[Listener]] = defaultdict(list)
        self._event_listeners: dict[tuple[str, str], list[EventListener]] = defaultdict(list)
        self._lock = threading.Lock()

    def subscribe_events(
        self, tenant: str, session_id: str, listener: EventListener
    ) -> Callable[[], None]:
        """Call `listener(events)` with the events of each write, once they are stored: a
        local stream follows the log without reading it back; returns the unsubscribe."""
        key = (tenant, session_id)
        with self._lock:
            self._event_listeners[key].append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._event_listeners.get(key, []):
                    self._event_listeners[key].remove(listener)
                if not self._event_listeners.get(key):
                    self._event_listeners.pop(key, None)

        return unsubscribe

    def subscribe(self, tenant: str, session_id: str, listener: Listener) -> Callable[[], None]:
        """Call `listener(tenant, session_id)` after each write; returns the unsubscribe."""
        key = (tenant, session_id)
        with self._lock:
            self._listeners[key].append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners.get(key, []):
                    self._listeners[key].remove(listener)
                if not self._listeners.get(key):
                    self._listeners.pop(key, None)

        return unsubscribe

    def publish(self, tenant: str, session_id: str, events: list[Event] | None = None) -> None:
        with self._lock:
            listeners = list(self._listeners.get((tenant, session_id), []))
            event_listeners = list(self._event_listeners.get((tenant, session_id), []))
        for listener in listeners:
            listener(tenant, session_id)
        for event_listener in event_listeners if events else []:
            event_listener(list(events or []))


BUS = EventBus()
"""The process's bus: writers publish here, the local API subscribes."""


@dataclass
class EventWriter:
    """Appends one lane's events; `batch_ms` > 0 groups writes (AWS: fewer write units)."""

    store: Store
    tenant: str
    session_id: str
    run_id: str
    step: int
    attempt: int
    batch_ms: float = 0.0
    ttl_s: float | None = None
    redact: Callable[[Any], Any] | None = None
    bus: EventBus | None = BUS
    seq: int = 0
    _pending: list[Event] = field(default_factory=list)
    _last_flush: float = field(default_factory=time.monotonic)
    auto_flush: bool = True
    """False: parts wait for `flush()` / `tick()` (a handler writes what happens at one moment
    in one store write)."""

    def emit(self, part: dict[str, Any]) -> str:
        """Record one UI-stream part; returns its event id."""
        data = self.redact(part) if self.redact is not None else part
        ident = event_id(self.run_id, self.step, self.attempt, self.seq)
        self.seq += 1
        self._pending.append(
            Event(event_id=ident, run_id=self.run_id, type=str(part["type"]), data=data)
        )
        if self.auto_flush:
            self.tick()
        return ident

    def tick(self) -> None:
        """Flush now, or when the batching window (AWS) has passed."""
        if self.batch_ms <= 0 or (time.monotonic() - self._last_flush) * 1000 >= self.batch_ms:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        events, self._pending = self._pending, []
        try:
            self.store.append_events(self.tenant, self.session_id, events, ttl_s=self.ttl_s)
        except BaseException:
            self._pending = events + self._pending  # kept for the next flush, in order
            raise
        self._last_flush = time.monotonic()
        if self.bus is not None:
            self.bus.publish(self.tenant, self.session_id, events)
