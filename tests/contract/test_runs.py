"""Runs: idempotent creation, versioned updates, atomic usage, pending approvals."""

from __future__ import annotations

import threading

import pytest

from podium.errors import ConflictError, NotFoundError
from podium.store.ids import new_run_id, utc_day
from podium.store.models import PendingApproval, Usage

from .helpers import OTHER, TENANT, all_pages, new_run, new_session

MODEL = "openai/gpt-4o-mini"


def test_create_is_idempotent_on_run_id(store):
    session = new_session(store)
    run_id = new_run_id()
    first = new_run(store, session, run_id, input={"text": "hi"}, status="queued")
    again = new_run(store, session, run_id, input={"text": "different"}, status="running")
    assert again.input == {"text": "hi"}
    assert again.status == "queued"
    assert first.version == again.version == 1
    assert len(store.list_runs(TENANT, session.session_id).items) == 1


def test_get_run_records_the_agent_hash(store):
    session = new_session(store, agent_hash="abc123")
    run = new_run(store, session)
    got = store.get_run(TENANT, session.session_id, run.run_id)
    assert got.agent_hash == "abc123"
    with pytest.raises(NotFoundError):
        store.get_run(OTHER, session.session_id, run.run_id)
    with pytest.raises(NotFoundError):
        store.get_run(TENANT, session.session_id, new_run_id())


def test_run_for_a_missing_session_is_refused(store):
    session = new_session(store)
    store.delete_session(TENANT, session.session_id)
    with pytest.raises(NotFoundError):
        new_run(store, session)


def test_list_runs_newest_first(store, clock):
    session = new_session(store)
    ids = []
    for _ in range(5):
        clock.advance(1)
        ids.append(new_run(store, session, new_run_id(clock())).run_id)
    listed = all_pages(lambda c: store.list_runs(TENANT, session.session_id, limit=2, cursor=c))
    assert [r.run_id for r in listed] == list(reversed(ids))


def test_update_is_versioned_and_keeps_counters(store):
    session = new_session(store)
    run = new_run(store, session)
    store.add_run_usage(
        TENANT, session.session_id, run.run_id, Usage(input_tokens=10), agent="helper", model=MODEL
    )
    store.add_pending_approval(
        TENANT,
        session.session_id,
        run.run_id,
        PendingApproval(call_id="c1", tool="t", task_token="x"),
    )
    stale = store.get_run(TENANT, session.session_id, run.run_id)
    updated = store.update_run(
        stale.model_copy(
            update={"status": "running", "step": 3, "execution_ref": "arn:aws:states:x"}
        ),
        expected_version=1,
    )
    assert updated.version == 2
    assert updated.usage.input_tokens == 10
    assert set(updated.pending_approvals) == {"c1"}
    with pytest.raises(ConflictError):
        store.update_run(stale.model_copy(update={"status": "failed"}), expected_version=1)
    got = store.get_run(TENANT, session.session_id, run.run_id)
    assert (got.status, got.step, got.execution_ref) == ("running", 3, "arn:aws:states:x")


def test_large_run_input_and_output_go_to_blobs(store):
    session = new_session(store)
    big = {"text": "z" * 300_000}
    run = new_run(store, session, input=big)
    got = store.get_run(TENANT, session.session_id, run.run_id)
    assert got.input == big
    assert got.input_ref is not None
    done = store.update_run(got.model_copy(update={"output": big}), expected_version=1)
    assert done.output == big
    final = store.get_run(TENANT, session.session_id, run.run_id, hydrate=False)
    assert final.input is None
    assert final.output is None
    assert final.output_ref is not None


def test_usage_is_added_to_run_session_and_tenant_counters(store, clock):
    session = new_session(store)
    run = new_run(store, session)
    sid = session.session_id
    one = Usage(
        requests=1, input_tokens=100, output_tokens=20, cached_tokens=5, cost_micro_usd=1234
    )
    store.add_run_usage(TENANT, sid, run.run_id, one, agent="helper", model=MODEL)
    totals = store.add_run_usage(
        TENANT, sid, run.run_id, one, agent="helper", model=MODEL, idempotency_key="step1.0"
    )
    retried = store.add_run_usage(
        TENANT, sid, run.run_id, one, agent="helper", model=MODEL, idempotency_key="step1.0"
    )
    assert totals == retried
    assert totals.input_tokens == 200
    assert totals.cost_micro_usd == 2468
    assert store.get_session(TENANT, sid).usage == totals
    day = utc_day(clock())
    records = store.list_usage(TENANT, since_day=day, until_day=day)
    assert [(r.agent, r.model, r.usage.requests) for r in records] == [("helper", MODEL, 2)]


def test_usage_counters_are_atomic_under_concurrency(store):
    session = new_session(store)
    run = new_run(store, session)

    def adder() -> None:
        for _ in range(10):
            store.add_run_usage(
                TENANT,
                session.session_id,
                run.run_id,
                Usage(requests=1, output_tokens=3, cost_micro_usd=7),
                agent="helper",
                model=MODEL,
            )

    threads = [threading.Thread(target=adder) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = store.get_run(TENANT, session.session_id, run.run_id).usage
    assert (usage.requests, usage.output_tokens, usage.cost_micro_usd) == (60, 180, 420)


def test_usage_for_a_missing_run_is_refused(store):
    session = new_session(store)
    with pytest.raises(NotFoundError):
        store.add_run_usage(
            TENANT, session.session_id, new_run_id(), Usage(requests=1), agent="a", model=MODEL
        )


def test_pending_approvals_resolve_once(store):
    session = new_session(store)
    run = new_run(store, session)
    sid = session.session_id
    for call in ("c1", "c2"):
        store.add_pending_approval(
            TENANT,
            sid,
            run.run_id,
            PendingApproval(call_id=call, tool="delete_file", task_token=f"token-{call}"),
        )
    store.add_pending_approval(  # a retry: same call id, kept once, token unchanged
        TENANT, sid, run.run_id, PendingApproval(call_id="c1", tool="x", task_token="other")
    )
    pending = store.get_run(TENANT, sid, run.run_id).pending_approvals
    assert {k: v.task_token for k, v in pending.items()} == {"c1": "token-c1", "c2": "token-c2"}
    resolved = store.resolve_pending_approval(TENANT, sid, run.run_id, "c1")
    assert resolved.task_token == "token-c1"
    with pytest.raises(NotFoundError):
        store.resolve_pending_approval(TENANT, sid, run.run_id, "c1")
    assert set(store.get_run(TENANT, sid, run.run_id).pending_approvals) == {"c2"}


def test_pending_approvals_are_bounded(store):
    session = new_session(store)
    run = new_run(store, session)
    for i in range(store.max_pending_approvals):
        store.add_pending_approval(
            TENANT,
            session.session_id,
            run.run_id,
            PendingApproval(call_id=f"c{i}", tool="t", task_token="x"),
        )
    with pytest.raises(ConflictError):
        store.add_pending_approval(
            TENANT,
            session.session_id,
            run.run_id,
            PendingApproval(call_id="extra", tool="t", task_token="x"),
        )


def test_concurrent_decisions_one_winner(store):
    session = new_session(store)
    run = new_run(store, session)
    store.add_pending_approval(
        TENANT,
        session.session_id,
        run.run_id,
        PendingApproval(call_id="c", tool="t", task_token="x"),
    )
    wins: list[int] = []
    barrier = threading.Barrier(8)

    def decide(n: int) -> None:
        barrier.wait()
        try:
            store.resolve_pending_approval(TENANT, session.session_id, run.run_id, "c")
            wins.append(n)
        except NotFoundError:
            pass

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
