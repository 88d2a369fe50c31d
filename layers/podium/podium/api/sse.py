"""Server-sent events from the durable log: replay after `Last-Event-ID`, then follow.

Each event is `id: <event id>` + `data: <UI message stream part>`; a run's stream ends after
its `finish` part with `data: [DONE]`, as the AI SDK's streams do. A comment line goes out
every `heartbeat_s` of silence so proxies keep the connection. Locally new events wake the
stream through the in-process event bus; in AWS, where the writers are other Lambdas, the
stream re-reads the log every `poll_s`. Under Mangum (which buffers whole responses) a
request returns what arrived within `bounded_wait_s`, with `retry:` so an EventSource simply
reconnects with its Last-Event-ID: long polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from fastapi.responses import StreamingResponse

from podium.api.context import ApiContext
from podium.engine.eventlog import BUS
from podium.store.ids import is_event_id
from podium.store.models import Event

HEADERS = {
    "Cache-Control": "no-cache, no-transform",
    "X-Accel-Buffering": "no",
    "x-vercel-ai-ui-message-stream": "v1",
}
PAGE = 500


def format_event(event_id: str | None, data: Any) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'), ensure_ascii=False)}\n\n"


def streaming_response(body: AsyncIterator[str], **headers: str) -> StreamingResponse:
    return StreamingResponse(body, media_type="text/event-stream", headers={**HEADERS, **headers})


async def follow(
    ctx: ApiContext,
    tenant: str,
    session_id: str,
    *,
    run_id: str | None = None,
    after: str | None = None,
    bounded: bool = False,
) -> AsyncIterator[str]:
    """Replay the log after `after`, then follow it: a run's stream ends with its `finish`."""
    store = ctx.runtime.store
    if after is not None and not is_event_id(after):
        after = None
    wake = asyncio.Event()
    loop = asyncio.get_running_loop()
    delivered: deque[Event] = deque()

    def arrived(events: list[Event]) -> None:  # on the writer's thread
        loop.call_soon_threadsafe(_take, events)

    def _take(events: list[Event]) -> None:
        delivered.extend(events)
        wake.set()

    # locally, subscribe before reading the log: nothing written meanwhile is missed
    unsubscribe = BUS.subscribe_events(tenant, session_id, arrived) if ctx.local else (lambda: None)
    started = time.monotonic()
    quiet_since = time.monotonic()
    read_log = True
    try:
        while True:
            wake.clear()
            if read_log or not delivered:
                events = await asyncio.to_thread(
                    store.list_events, tenant, session_id, run_id=run_id, after=after, limit=PAGE
                )
                read_log = len(events) == PAGE  # (what the bus brought meanwhile is kept:
                # the next turn drops what this read already yielded, by id)
            else:  # local writers hand their events over: no need to read them back
                events = _newer(delivered, run_id, after)
            quiet_since = time.monotonic() if events else quiet_since
            for event in events:
                after = event.event_id
                yield format_event(event.event_id, event.data)
                if run_id is not None and event.type == "finish":
                    yield "data: [DONE]\n\n"
                    return
            if events and read_log:
                continue
            if (
                not events
                and run_id is not None
                and await _ended_without_finish(ctx, tenant, session_id, run_id)
            ):
                yield "data: [DONE]\n\n"
                return
            if bounded and time.monotonic() - started >= ctx.settings.bounded_wait_s:
                yield "retry: 1000\n\n"
                return
            if time.monotonic() - quiet_since >= ctx.settings.heartbeat_s:
                yield ": keep-alive\n\n"  # proxies keep a connection that speaks
                quiet_since = time.monotonic()
            await _wait(ctx, wake, bounded=bounded)
    finally:
        unsubscribe()


def _newer(delivered: deque[Event], run_id: str | None, after: str | None) -> list[Event]:
    """The handed-over events of this stream not yet sent (and empty the hand-over)."""
    events = [
        e
        for e in delivered
        if (run_id is None or e.run_id == run_id) and (after is None or e.event_id > after)
    ]
    delivered.clear()
    return events


async def _wait(ctx: ApiContext, wake: asyncio.Event, *, bounded: bool) -> None:
    """Until the bus says the log grew (locally), or the next poll (AWS)."""
    timeout = ctx.settings.heartbeat_s if ctx.local else ctx.settings.poll_s
    if bounded:
        timeout = min(timeout, ctx.settings.poll_s)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wake.wait(), timeout=min(timeout, 1.0))


async def _ended_without_finish(ctx: ApiContext, tenant: str, session_id: str, run_id: str) -> bool:
    """A run that ended long ago without a `finish` in the log (an expired event log)."""
    run = await asyncio.to_thread(ctx.runtime.store.get_run, tenant, session_id, run_id)
    return run.terminal and ctx.runtime.clock() - run.updated_at > 5
