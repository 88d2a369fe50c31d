"""Sessions: create, get, list, update with versions, retention, deletion."""

from __future__ import annotations

import pytest

from podium.errors import ConflictError, InputError, NotFoundError
from podium.store.ids import event_id
from podium.store.models import Checkpoint, Event, Message, Span, Summary

from .conftest import leftovers
from .helpers import OTHER, TENANT, all_pages, new_run, new_session, user


def test_create_and_get(store):
    session = new_session(store, input_vars={"city": "Oslo"}, metadata={"title": "t"})
    got = store.get_session(TENANT, session.session_id)
    assert got.agent == "helper"
    assert got.agent_hash == "hash-1"
    assert got.input_vars == {"city": "Oslo"}
    assert got.metadata == {"title": "t"}
    assert got.version == 1
    assert got.last_seq == 0
    assert got.schema_version == 1


def test_wrong_tenant_is_not_found(store):
    session = new_session(store)
    with pytest.raises(NotFoundError):
        store.get_session(OTHER, session.session_id)
    with pytest.raises(NotFoundError):
        store.append_message(OTHER, session.session_id, user("hi"))
    with pytest.raises(NotFoundError):
        store.list_messages(OTHER, session.session_id)
    with pytest.raises(NotFoundError):
        store.acquire_session_lease(OTHER, session.session_id, "r1", 30)
    with pytest.raises(NotFoundError):
        store.delete_session(OTHER, session.session_id)
    assert store.list_sessions(OTHER).items == []


@pytest.mark.parametrize("bad", ["a#b", "T#x#S#y", "", "a/b", "../x", "x" * 200])
def test_unsafe_names_are_refused(store, bad):
    with pytest.raises(InputError):
        store.create_session(bad, agent="helper", agent_hash="h")


def test_duplicate_id_conflicts(store):
    session = new_session(store, session_id="fixed-id")
    assert session.session_id == "fixed-id"
    with pytest.raises(ConflictError):
        new_session(store, session_id="fixed-id")


def test_list_newest_first_with_cursor_pagination(store, clock):
    ids = []
    for i in range(7):
        clock.advance(10)
        ids.append(new_session(store, agent="helper" if i % 2 else "writer").session_id)
    new_session(store, tenant=OTHER)
    pages = []
    cursor = None
    while True:
        page = store.list_sessions(TENANT, limit=3, cursor=cursor)
        pages.append([s.session_id for s in page.items])
        if page.cursor is None:
            break
        cursor = page.cursor
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [sid for p in pages for sid in p] == list(reversed(ids))

    helpers = all_pages(lambda c: store.list_sessions(TENANT, agent="helper", limit=2, cursor=c))
    assert [s.session_id for s in helpers] == [ids[5], ids[3], ids[1]]


def test_list_orders_by_last_update(store, clock):
    first = new_session(store)
    clock.advance(5)
    second = new_session(store)
    clock.advance(5)
    store.append_message(TENANT, first.session_id, user("again"))
    listed = [s.session_id for s in store.list_sessions(TENANT).items]
    assert listed == [first.session_id, second.session_id]


def test_list_filters_by_date(store, clock):
    start = clock()
    made = []
    for _ in range(5):
        clock.advance(100)
        made.append(new_session(store).session_id)
    page = store.list_sessions(TENANT, updated_after=start + 150, updated_before=start + 450)
    assert [s.session_id for s in page.items] == [made[3], made[2], made[1]]


def test_cursor_cannot_cross_tenants_or_listings(store, clock):
    for _ in range(3):
        clock.advance(1)
        new_session(store)
        new_session(store, tenant=OTHER)
    page = store.list_sessions(TENANT, limit=1)
    assert page.cursor is not None
    with pytest.raises(InputError):
        store.list_sessions(OTHER, limit=1, cursor=page.cursor)
    with pytest.raises(InputError):
        store.list_sessions(TENANT, agent="helper", limit=1, cursor=page.cursor)
    with pytest.raises(InputError):
        store.list_sessions(TENANT, limit=1, cursor="not-a-cursor!!")


def test_update_session_is_versioned(store):
    session = new_session(store)
    updated = store.update_session(
        TENANT, session.session_id, expected_version=1, metadata={"title": "new"}
    )
    assert updated.version == 2
    assert store.get_session(TENANT, session.session_id).metadata == {"title": "new"}
    with pytest.raises(ConflictError):
        store.update_session(TENANT, session.session_id, expected_version=1, metadata={"x": 1})
    pinned = store.update_session(TENANT, session.session_id, expected_version=2, agent_hash="h2")
    assert pinned.agent_hash == "h2"
    assert pinned.metadata == {"title": "new"}


def test_expired_sessions_are_filtered_on_read(store, clock):
    kept = new_session(store)
    short = new_session(store, retention_s=60)
    store.append_message(TENANT, short.session_id, user("soon gone"))
    clock.advance(61)
    with pytest.raises(NotFoundError):
        store.get_session(TENANT, short.session_id)
    with pytest.raises(NotFoundError):
        store.list_messages(TENANT, short.session_id)
    with pytest.raises(NotFoundError):
        store.acquire_session_lease(TENANT, short.session_id, "r1", 30)
    assert [s.session_id for s in store.list_sessions(TENANT).items] == [kept.session_id]
    # the id can be used again: the expired session is purged first
    again = new_session(store, session_id=short.session_id)
    assert store.append_message(TENANT, again.session_id, user("fresh")).seq == 1
    assert [m.content for m in store.list_messages(TENANT, again.session_id).items] == ["fresh"]


def test_children_expire_with_their_session(store, clock):
    session = new_session(store, retention_s=100)
    message = store.append_message(TENANT, session.session_id, user("hi"))
    run = new_run(store, session)
    assert message.expires_at == session.expires_at
    assert run.expires_at == session.expires_at


def test_delete_leaves_nothing_behind(store):
    session = new_session(store)
    neighbour = new_session(store)
    store.append_message(TENANT, neighbour.session_id, user("stay"))
    sid = session.session_id
    for i in range(30):
        store.append_message(TENANT, sid, user(f"m{i}"), idempotency_key=f"k{i}")
    store.append_message(TENANT, sid, Message(role="tool", content="x" * 300_000, tool_call_id="c"))
    run = new_run(store, session, input={"text": "y" * 300_000})
    store.acquire_session_lease(TENANT, sid, run.run_id, 60)
    events = [
        Event(event_id=event_id(run.run_id, 1, 0, i), run_id=run.run_id, type="text-delta")
        for i in range(40)
    ]
    store.append_events(TENANT, sid, events)
    store.put_span(
        TENANT, sid, Span(span_id="s1", run_id=run.run_id, kind="run", name="run", start=1.0)
    )
    store.put_summary(
        TENANT, sid, Summary(session_id=sid, from_seq=1, to_seq=10, content="s", model="m")
    )
    store.put_checkpoint(
        Checkpoint(run_id=run.run_id, tenant=TENANT, session_id=sid, owner="o", state={"a": 1}),
        expected_version=None,
    )
    assert leftovers(store, TENANT, sid)

    store.delete_session(TENANT, sid)

    assert leftovers(store, TENANT, sid) == []
    with pytest.raises(NotFoundError):
        store.get_session(TENANT, sid)
    with pytest.raises(NotFoundError):
        store.get_checkpoint(run.run_id)
    assert [m.content for m in store.list_messages(TENANT, neighbour.session_id).items] == ["stay"]
    with pytest.raises(NotFoundError):
        store.delete_session(TENANT, sid)
