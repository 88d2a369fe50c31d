"""Admission is all or nothing: an input refused, or one whose storing fails, leaves the session
free and nothing half-stored; an input that cannot be queued does not wait forever."""

from __future__ import annotations

import time

import pytest

from podium.errors import InputError, StoreError
from podium.testing import Reply
from support.podium_env import TENANT


def holder(p, session: str) -> str | None:
    return p.store.get_session(TENANT, session).lease_holder(time.time())


@pytest.mark.parametrize("bad", ["hi \ud83d", ["text", {"type": "text", "text": "\udfff"}]])
def test_an_input_that_cannot_be_stored_is_refused_before_anything_is(
    podium, agents, fake_openai, bad
):
    agents("plain", "")
    fake_openai.script(Reply("hello"))
    p = podium()
    session = p.session("plain")
    with pytest.raises(InputError, match=r"lone surrogate|content parts"):
        p.service.start_run(TENANT, session, bad)
    assert holder(p, session) is None
    assert p.store.list_runs(TENANT, session).items == []
    assert p.run("plain", "hello", session=session).status == "succeeded"  # not 409


def test_metadata_that_cannot_be_stored_is_refused(podium, agents):
    agents("plain", "")
    p = podium()
    session = p.session("plain")
    with pytest.raises(InputError, match="metadata"):
        p.service.start_run(TENANT, session, "hello", metadata={"note": "\ud800"})
    assert holder(p, session) is None


def test_a_failed_write_gives_the_lease_back(podium, agents, fake_openai, monkeypatch):
    agents("plain", "")
    fake_openai.script(Reply("hello"))
    p = podium()
    session = p.session("plain")
    original = p.store.create_run

    def broken(run):
        raise StoreError("the table is throttled")

    monkeypatch.setattr(p.store, "create_run", broken)
    with pytest.raises(StoreError):
        p.service.start_run(TENANT, session, "hello")
    assert holder(p, session) is None
    monkeypatch.setattr(p.store, "create_run", original)
    assert p.run("plain", "hello", session=session).status == "succeeded"


def test_an_input_that_cannot_be_queued_is_closed_not_left_waiting(
    podium, agents, fake_openai, monkeypatch
):
    agents("patient", "on_conflict: enqueue\n")
    fake_openai.script(Reply(text="a b c d", chunks=4, chunk_ms=100), Reply("second"))
    p = podium()
    session = p.session("patient")
    first = p.service.start_run(TENANT, session, "one").run.run_id

    def full(*args, **kwargs):
        raise StoreError("the session item is throttled")

    monkeypatch.setattr(p.store, "enqueue_input", full)
    with pytest.raises(StoreError):
        p.service.start_run(TENANT, session, "two")
    [lost] = [r for r in p.store.list_runs(TENANT, session).items if r.run_id != first]
    assert lost.status == "failed" and lost.error["Error"] == "Podium.NotQueued"
    assert p.wait(session, first).status == "succeeded"
    assert holder(p, session) is None
