"""One writer per session: leases, expiry, interrupt, the input queue, versions, races."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from podium.errors import ConflictError
from podium.store.models import QueuedInput
from podium.store.sqlite import SqliteStore

from .conftest import FakeClock, make_sqlite
from .helpers import TENANT, new_session


def test_second_run_is_rejected_while_the_lease_is_held(store):
    session = new_session(store)
    sid = session.session_id
    held = store.acquire_session_lease(TENANT, sid, "run-a", 60)
    assert held.lease is not None
    assert held.lease.run_id == "run-a"
    assert held.version == 2
    with pytest.raises(ConflictError) as info:
        store.acquire_session_lease(TENANT, sid, "run-b", 60)
    assert info.value.details["holder"] == "run-a"
    # the holder may renew
    renewed = store.acquire_session_lease(TENANT, sid, "run-a", 120)
    assert renewed.lease is not None
    assert renewed.lease.expires_at > held.lease.expires_at


def test_release_only_by_the_holder(store):
    sid = new_session(store).session_id
    store.acquire_session_lease(TENANT, sid, "run-a", 60)
    with pytest.raises(ConflictError):
        store.release_session_lease(TENANT, sid, "run-b")
    assert store.release_session_lease(TENANT, sid, "run-a") is None
    assert store.get_session(TENANT, sid).lease is None
    store.acquire_session_lease(TENANT, sid, "run-b", 60)
    with pytest.raises(ConflictError):
        store.release_session_lease(TENANT, sid, "run-a")


def test_a_crashed_runs_lease_expires(store, clock):
    sid = new_session(store).session_id
    store.acquire_session_lease(TENANT, sid, "crashed", 30)
    clock.advance(29)
    with pytest.raises(ConflictError):
        store.acquire_session_lease(TENANT, sid, "next", 30)
    clock.advance(2)
    session = store.acquire_session_lease(TENANT, sid, "next", 30)
    assert session.lease is not None
    assert session.lease.run_id == "next"
    assert session.lease_holder(clock()) == "next"


def test_explicit_now_overrides_the_clock(store, clock):
    sid = new_session(store).session_id
    store.acquire_session_lease(TENANT, sid, "a", 30, now=clock())
    taken = store.acquire_session_lease(TENANT, sid, "b", 30, now=clock() + 31)
    assert taken.lease is not None and taken.lease.run_id == "b"
    assert store.get_session(TENANT, sid).lease_holder(clock() + 31) == "b"


def test_the_holder_renews_its_lease_and_never_shortens_it(store, clock):
    sid = new_session(store).session_id
    store.acquire_session_lease(TENANT, sid, "run-a", 60)
    renewed = store.renew_session_lease(TENANT, sid, "run-a", 600)
    assert renewed.lease is not None and renewed.lease.expires_at == clock() + 600
    kept = store.renew_session_lease(TENANT, sid, "run-a", 10)  # a shorter renewal
    assert kept.lease is not None and kept.lease.expires_at == clock() + 600
    assert store.get_session(TENANT, sid).lease.expires_at == clock() + 600


def test_a_lease_that_expired_untaken_is_renewed_by_its_holder(store, clock):
    sid = new_session(store).session_id
    store.acquire_session_lease(TENANT, sid, "run-a", 30)
    clock.advance(40)
    renewed = store.renew_session_lease(TENANT, sid, "run-a", 30)
    assert renewed.lease_holder(clock()) == "run-a"


def test_only_the_holder_renews(store, clock):
    sid = new_session(store).session_id
    with pytest.raises(ConflictError) as none_held:
        store.renew_session_lease(TENANT, sid, "run-a", 30)
    assert none_held.value.details["holder"] is None
    store.acquire_session_lease(TENANT, sid, "run-a", 30)
    clock.advance(40)
    store.acquire_session_lease(TENANT, sid, "run-b", 30)  # taken after it expired
    with pytest.raises(ConflictError) as taken:
        store.renew_session_lease(TENANT, sid, "run-a", 30)
    assert taken.value.details["holder"] == "run-b"
    store.release_session_lease(TENANT, sid, "run-b")
    with pytest.raises(ConflictError):
        store.renew_session_lease(TENANT, sid, "run-b", 30)  # released: nothing to renew


def test_interrupt_steals_only_from_the_expected_holder(store):
    sid = new_session(store).session_id
    store.acquire_session_lease(TENANT, sid, "old", 60)
    with pytest.raises(ConflictError):
        store.steal_session_lease(TENANT, sid, "new", expected_holder="someone-else", ttl_s=60)
    session = store.steal_session_lease(TENANT, sid, "new", expected_holder="old", ttl_s=60)
    assert session.lease is not None
    assert session.lease.run_id == "new"
    with pytest.raises(ConflictError):
        store.release_session_lease(TENANT, sid, "old")


def test_queue_is_fifo_and_bounded(store):
    sid = new_session(store).session_id
    for i in range(store.max_queue):
        store.enqueue_input(TENANT, sid, QueuedInput(run_id=f"r{i:02d}", input={"text": i}))
    with pytest.raises(ConflictError) as info:
        store.enqueue_input(TENANT, sid, QueuedInput(run_id="overflow", input={}))
    assert info.value.details["reason"] == "queue_full"
    first = store.pop_queued_input(TENANT, sid)
    assert first is not None
    assert first.run_id == "r00"
    assert first.input == {"text": 0}
    assert len(store.get_session(TENANT, sid).queue) == store.max_queue - 1


def test_large_queued_input_goes_to_blobs(store):
    sid = new_session(store).session_id
    big = {"text": "q" * 50_000}
    store.enqueue_input(TENANT, sid, QueuedInput(run_id="r1", input=big))
    assert store.get_session(TENANT, sid).queue[0].input_ref is not None
    popped = store.pop_queued_input(TENANT, sid)
    assert popped is not None
    assert popped.input == big
    assert store.pop_queued_input(TENANT, sid) is None


def test_release_hands_the_lease_to_the_next_queued_input(store):
    sid = new_session(store).session_id
    store.acquire_session_lease(TENANT, sid, "run-1", 60)
    store.enqueue_input(TENANT, sid, QueuedInput(run_id="run-2", input={"text": "second"}))
    store.enqueue_input(TENANT, sid, QueuedInput(run_id="run-3", input={"text": "third"}))
    nxt = store.release_session_lease(TENANT, sid, "run-1", handoff_ttl_s=60)
    assert nxt is not None
    assert nxt.run_id == "run-2"
    session = store.get_session(TENANT, sid)
    assert session.lease is not None
    assert session.lease.run_id == "run-2"
    assert [q.run_id for q in session.queue] == ["run-3"]
    with pytest.raises(ConflictError):
        store.acquire_session_lease(TENANT, sid, "intruder", 60)


def race_for_lease(store, sid: str, contenders: int) -> list[str]:
    winners: list[str] = []
    barrier = threading.Barrier(contenders)

    def contender(n: int) -> None:
        barrier.wait()
        try:
            store.acquire_session_lease(TENANT, sid, f"run-{n}", 60)
            winners.append(f"run-{n}")
        except ConflictError:
            pass

    threads = [threading.Thread(target=contender, args=(n,)) for n in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return winners


def test_many_threads_race_for_a_lease_exactly_one_wins(store):
    for _ in range(3):
        sid = new_session(store).session_id
        winners = race_for_lease(store, sid, 12)
        assert len(winners) == 1
        session = store.get_session(TENANT, sid)
        assert session.lease is not None
        assert session.lease.run_id == winners[0]


def test_version_conflicts_are_detected_under_contention(store):
    sid = new_session(store, metadata={"n": 0}).session_id
    conflicts = [0]
    lock = threading.Lock()

    def incrementer() -> None:
        for _ in range(10):
            while True:
                session = store.get_session(TENANT, sid)
                try:
                    store.update_session(
                        TENANT,
                        sid,
                        expected_version=session.version,
                        metadata={"n": session.metadata["n"] + 1},
                    )
                    break
                except ConflictError:
                    with lock:
                        conflicts[0] += 1

    threads = [threading.Thread(target=incrementer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    final = store.get_session(TENANT, sid)
    assert final.metadata["n"] == 60  # no lost update
    assert final.version == 61


def _process_contender(path: str, sid: str, n: int, start, results) -> None:
    store = SqliteStore(Path(path), clock=FakeClock())
    start.wait()
    try:
        store.acquire_session_lease(TENANT, sid, f"proc-{n}", 60)
        results.put(f"proc-{n}")
    except ConflictError:
        results.put("lost")
    finally:
        store.close()


@pytest.mark.parametrize("store_kind", ["sqlite"])
def test_processes_race_for_a_lease_exactly_one_wins(tmp_path, clock, store_kind):
    """Real processes on one SQLite file (moto cannot be shared across processes)."""
    store = make_sqlite(tmp_path, clock)
    context = multiprocessing.get_context("fork")
    for _ in range(2):
        sid = new_session(store).session_id
        start = context.Event()
        results = context.Queue()
        procs = [
            context.Process(
                target=_process_contender, args=(str(store.path), sid, n, start, results)
            )
            for n in range(6)
        ]
        for proc in procs:
            proc.start()
        start.set()
        for proc in procs:
            proc.join(30)
        outcomes = [results.get(timeout=5) for _ in procs]
        winners = [o for o in outcomes if o != "lost"]
        assert len(winners) == 1, outcomes
        lease = store.get_session(TENANT, sid).lease
        assert lease is not None
        assert lease.run_id == winners[0]
    store.close()
