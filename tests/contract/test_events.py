"""The event log: deterministic ids, no duplicates or overwrites, replay after an id, TTL."""

from __future__ import annotations

import pytest

from podium.errors import NotFoundError
from podium.store.ids import event_id, new_run_id
from podium.store.models import Event

from .helpers import OTHER, TENANT, new_session


def events(run_id: str, step: int, attempt: int, count: int, **data: object) -> list[Event]:
    return [
        Event(
            event_id=event_id(run_id, step, attempt, seq),
            run_id=run_id,
            type="text-delta",
            data={"seq": seq, **data},
        )
        for seq in range(count)
    ]


def test_append_and_replay_after_an_id(store):
    sid = new_session(store).session_id
    run = new_run_id()
    batch = events(run, 1, 0, 60)
    assert store.append_events(TENANT, sid, batch) == 60
    everything = store.list_events(TENANT, sid, limit=1000)
    assert [e.event_id for e in everything] == [e.event_id for e in batch]
    after = store.list_events(TENANT, sid, after=batch[9].event_id, limit=5)
    assert [e.event_id for e in after] == [e.event_id for e in batch[10:15]]
    assert store.list_events(TENANT, sid, after=batch[-1].event_id) == []


def test_retries_never_duplicate_or_overwrite(store):
    sid = new_session(store).session_id
    run = new_run_id()
    first = events(run, 1, 0, 5, text="original")
    store.append_events(TENANT, sid, first)
    # the same attempt re-sent (a Lambda retry) with different content: skipped
    assert store.append_events(TENANT, sid, events(run, 1, 0, 7, text="rewrite")) == 2
    # a Step Functions retry is a new attempt: new ids, appended after the old attempt
    assert store.append_events(TENANT, sid, events(run, 1, 1, 3, text="retry")) == 3
    got = store.list_events(TENANT, sid)
    assert len(got) == 10
    assert [e.data["text"] for e in got] == ["original"] * 5 + ["rewrite"] * 2 + ["retry"] * 3


def test_ids_order_across_runs_and_per_run_reads(store, clock):
    sid = new_session(store).session_id
    run_a = new_run_id(clock())
    run_b = new_run_id(clock.advance(1))
    store.append_events(TENANT, sid, events(run_b, 0, 0, 3))
    store.append_events(TENANT, sid, events(run_a, 12, 0, 3))
    ids = [e.event_id for e in store.list_events(TENANT, sid)]
    assert ids == sorted(ids)
    assert ids[0].startswith(run_a)
    only_b = store.list_events(TENANT, sid, run_id=run_b)
    assert {e.run_id for e in only_b} == {run_b}
    assert len(only_b) == 3
    after_first_b = store.list_events(TENANT, sid, run_id=run_b, after=only_b[0].event_id)
    assert [e.event_id for e in after_first_b] == [e.event_id for e in only_b[1:]]
    # a session-wide cursor taken in run A continues into run B
    resumed = store.list_events(TENANT, sid, after=ids[2])
    assert [e.run_id for e in resumed] == [run_b] * 3


def test_event_ttl(store, clock):
    sid = new_session(store).session_id
    run = new_run_id()
    store.append_events(TENANT, sid, events(run, 1, 0, 3), ttl_s=10)
    store.append_events(TENANT, sid, events(run, 2, 0, 2))
    clock.advance(11)
    assert [e.event_id for e in store.list_events(TENANT, sid)] == [
        event_id(run, 2, 0, 0),
        event_id(run, 2, 0, 1),
    ]


def test_large_event_data_round_trips(store):
    sid = new_session(store).session_id
    run = new_run_id()
    big = Event(
        event_id=event_id(run, 1, 0, 0),
        run_id=run,
        type="tool-output-available",
        data={"output": "o" * 400_000},
    )
    store.append_events(TENANT, sid, [big])
    assert store.list_events(TENANT, sid)[0].data == big.data
    light = store.list_events(TENANT, sid, hydrate=False)[0]
    assert light.data is None
    assert light.data_ref is not None


def test_events_of_another_tenant_are_not_found(store):
    sid = new_session(store).session_id
    with pytest.raises(NotFoundError):
        store.append_events(OTHER, sid, events(new_run_id(), 1, 0, 1))
    with pytest.raises(NotFoundError):
        store.list_events(OTHER, sid)
