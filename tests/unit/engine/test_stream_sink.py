"""The model step's stream sink: what one network read brings is one store write, and a
write that fails stops the stream without losing or reordering the events."""

from __future__ import annotations

import asyncio
import time

import pytest

from podium.engine.eventlog import EventWriter
from podium.engine.step_model import _Sink
from podium.models import types as mt
from podium.store.ids import new_run_id


class Store:
    def __init__(self, fail: set[int] | None = None) -> None:
        self.fail = fail or set()
        self.calls = 0
        self.written: list[list[str]] = []

    def append_events(self, tenant, session_id, events, *, ttl_s=None) -> int:
        self.calls += 1
        if self.calls in self.fail:
            raise RuntimeError("sqlite busy")
        self.written.append([e.event_id for e in events])
        return len(events)


class Runtime:
    def __init__(self) -> None:
        self.cancelled: set[str] = set()
        self.cancel_poll_s = 1e9


class Ids:
    def __init__(self) -> None:
        self.run_id, self.tenant, self.session_id = new_run_id(time.time()), "t", "s"


def sink_over(store: Store) -> tuple[_Sink, EventWriter]:
    ids = Ids()
    writer = EventWriter(store, "t", "s", ids.run_id, 1, 0, auto_flush=False, bus=None)  # type: ignore[arg-type]
    return _Sink(Runtime(), ids, writer, text_id="x", reasoning_id="y"), writer  # type: ignore[arg-type]


async def stream(sink: _Sink, reads: list[list[str]], *, fail: Exception | None = None) -> str:
    for read in reads:  # the deltas of one network read arrive without a pause
        for delta in read:
            await sink(mt.TextDelta(delta=delta))
        await asyncio.sleep(0)  # waiting for the network: the loop runs queued callbacks
    if fail is not None:
        raise fail
    return "ok"


def test_the_parts_of_one_read_are_one_write():
    store = Store()
    sink, _ = sink_over(store)
    assert asyncio.run(sink.follow(stream(sink, [["a", "b", "c"], ["d"], ["e", "f"]]))) == "ok"
    sizes = [len(batch) for batch in store.written]
    assert sizes == [4, 1, 2]  # text-start and a, b, c; then d; then e, f
    ids = [i for batch in store.written for i in batch]
    assert ids == sorted(ids) and len(set(ids)) == 7


def test_a_failed_write_stops_the_stream_and_keeps_its_events_in_order():
    store = Store(fail={1})
    sink, writer = sink_over(store)
    with pytest.raises(RuntimeError, match="sqlite busy"):
        asyncio.run(sink.follow(stream(sink, [["a", "b"], ["c"], ["d"]])))
    writer.flush()  # what the step writes before it fails: nothing was dropped
    ids = [i for batch in store.written for i in batch]
    assert len(ids) == 3 and ids == sorted(ids)
    assert ids[0].endswith(".000000")


def test_the_calls_own_error_wins_over_a_failed_write():
    store = Store(fail={1, 2})
    sink, _ = sink_over(store)
    with pytest.raises(ValueError, match="provider"):
        asyncio.run(sink.follow(stream(sink, [], fail=ValueError("provider"))))
