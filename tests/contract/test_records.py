"""Spans, agent versions, API keys, usage rollups, checkpoints and runner leases."""

from __future__ import annotations

import pytest

from podium.errors import ConflictError, NotFoundError
from podium.store.ids import content_hash, hash_api_key, new_run_id
from podium.store.models import ApiKey, Checkpoint, Span, Usage

from .helpers import OTHER, TENANT, new_session


def test_spans_are_upserted_and_listed_per_run(store):
    sid = new_session(store).session_id
    run, other = new_run_id(), new_run_id()
    store.put_span(TENANT, sid, Span(span_id="0001", run_id=run, kind="run", name="run", start=1))
    store.put_span(
        TENANT,
        sid,
        Span(
            span_id="0002",
            parent_id="0001",
            run_id=run,
            kind="model",
            name="gpt",
            start=2,
            attributes={"input_tokens": 10},
        ),
    )
    store.put_span(TENANT, sid, Span(span_id="0001", run_id=other, kind="run", name="r", start=1))
    store.put_span(
        TENANT,
        sid,
        Span(span_id="0001", run_id=run, kind="run", name="run", start=1, end=5, status="ok"),
    )
    spans = store.list_spans(TENANT, sid, run)
    assert [(s.span_id, s.status) for s in spans] == [("0001", "ok"), ("0002", "running")]
    assert spans[1].attributes == {"input_tokens": 10}
    with pytest.raises(NotFoundError):
        store.list_spans(OTHER, sid, run)


def test_agent_versions_by_content_hash(store):
    definition = {"name": "helper", "model": "openai/gpt-4o", "tools": [{"name": "t"}]}
    stored = store.put_agent_version("helper", definition)
    assert stored.hash == content_hash(definition)
    again = store.put_agent_version("helper", dict(reversed(definition.items())))
    assert again.hash == stored.hash
    assert store.get_agent_version("helper", stored.hash).definition == definition
    changed = store.put_agent_version("helper", {**definition, "model": "x/y"})
    assert changed.hash != stored.hash
    with pytest.raises(NotFoundError):
        store.get_agent_version("helper", "0" * 64)


def test_api_keys_by_hash(store):
    digest = hash_api_key("pk_live_secret")
    store.put_api_key(
        ApiKey(
            key_hash=digest, tenant=TENANT, name="ci", scopes=["runs:write"], rate_limit_per_min=60
        )
    )
    store.put_api_key(ApiKey(key_hash=hash_api_key("other"), tenant=OTHER))
    with pytest.raises(ConflictError):
        store.put_api_key(ApiKey(key_hash=digest, tenant=OTHER))
    key = store.get_api_key(digest)
    assert (key.tenant, key.scopes, key.revoked, key.rate_limit_per_min) == (
        TENANT,
        ["runs:write"],
        False,
        60,
    )
    assert store.revoke_api_key(digest).revoked
    assert store.get_api_key(digest).revoked
    assert [k.key_hash for k in store.list_api_keys(TENANT)] == [digest]
    with pytest.raises(NotFoundError):
        store.get_api_key(hash_api_key("unknown"))


def test_usage_rollups_per_day_agent_model(store):
    for day in ("2026-01-01", "2026-01-02", "2026-01-03"):
        store.add_usage(
            TENANT,
            day=day,
            agent="helper",
            model="openai/gpt-4o",
            usage=Usage(requests=1, cost_micro_usd=10),
        )
    store.add_usage(
        TENANT, day="2026-01-02", agent="helper", model="openai/gpt-4o", usage=Usage(requests=2)
    )
    store.add_usage(
        TENANT, day="2026-01-02", agent="writer", model="anthropic/claude", usage=Usage(requests=5)
    )
    store.add_usage(
        OTHER, day="2026-01-02", agent="helper", model="openai/gpt-4o", usage=Usage(requests=9)
    )
    records = store.list_usage(TENANT, since_day="2026-01-02", until_day="2026-01-03")
    assert [(r.day, r.agent, r.model, r.usage.requests) for r in records] == [
        ("2026-01-02", "helper", "openai/gpt-4o", 3),
        ("2026-01-02", "writer", "anthropic/claude", 5),
        ("2026-01-03", "helper", "openai/gpt-4o", 1),
    ]


def test_checkpoints_are_versioned(store):
    sid = new_session(store).session_id
    run = new_run_id()
    cp = Checkpoint(run_id=run, tenant=TENANT, session_id=sid, owner="runner-1", state={"at": "A"})
    first = store.put_checkpoint(cp, expected_version=None)
    assert first.version == 1
    with pytest.raises(ConflictError):
        store.put_checkpoint(cp, expected_version=None)
    second = store.put_checkpoint(cp.model_copy(update={"state": {"at": "B"}}), expected_version=1)
    assert second.version == 2
    with pytest.raises(ConflictError):
        store.put_checkpoint(cp.model_copy(update={"state": {"at": "C"}}), expected_version=1)
    assert store.get_checkpoint(run).state == {"at": "B"}
    done = new_run_id()
    store.put_checkpoint(
        Checkpoint(run_id=done, tenant=TENANT, session_id=sid, owner="r", terminal=True),
        expected_version=None,
    )
    assert [c.run_id for c in store.list_checkpoints()] == [run]
    assert {c.run_id for c in store.list_checkpoints(include_terminal=True)} == {run, done}
    big = {"blob": "s" * 300_000}
    store.put_checkpoint(cp.model_copy(update={"state": big}), expected_version=2)
    assert store.get_checkpoint(run).state == big
    store.delete_checkpoint(run)
    with pytest.raises(NotFoundError):
        store.get_checkpoint(run)


def test_runner_leases_expire_without_heartbeats(store, clock):
    now = clock()
    store.acquire_runner_lease("runner-a", 30, now=now)
    store.acquire_runner_lease("runner-b", 30, now=now)
    assert store.list_live_owners(now=now + 10) == ["runner-a", "runner-b"]
    store.heartbeat("runner-a", 30, now=now + 20)
    assert store.list_live_owners(now=now + 40) == ["runner-a"]
    with pytest.raises(ConflictError):
        store.heartbeat("runner-b", 30, now=now + 40)
    store.release_runner_lease("runner-a")
    assert store.list_live_owners(now=now + 41) == []  # released: its runs may be taken over
    with pytest.raises(ConflictError):
        store.heartbeat("runner-a", 30, now=now + 41)
