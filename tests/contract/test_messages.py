"""Messages: sequence numbers, pages, idempotent appends, large payloads."""

from __future__ import annotations

import threading

import pytest

from podium.errors import InputError
from podium.store.models import Message

from .helpers import OTHER, TENANT, all_pages, new_session, user


def test_append_assigns_increasing_sequence(store, clock):
    session = new_session(store)
    seqs = []
    for i in range(5):
        clock.advance(1)
        seqs.append(store.append_message(TENANT, session.session_id, user(f"m{i}")).seq)
    assert seqs == [1, 2, 3, 4, 5]
    stored = store.get_session(TENANT, session.session_id)
    assert stored.last_seq == 5


def test_chat_shape_round_trip(store):
    session = new_session(store)
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    sent = [
        Message(role="system", content="be brief"),
        Message(role="user", content=[{"type": "text", "text": "hi"}]),
        Message(role="assistant", content=None, tool_calls=[call], run_id="R"),
        Message(role="tool", content="42", tool_call_id="c1", name="f"),
    ]
    for message in sent:
        store.append_message(TENANT, session.session_id, message)
    got = store.list_messages(TENANT, session.session_id).items
    assert [m.to_chat() for m in got] == [m.to_chat() for m in sent]
    assert got[2].run_id == "R"


def test_pages_in_both_directions(store):
    session = new_session(store)
    for i in range(1, 12):
        store.append_message(TENANT, session.session_id, user(f"m{i}"))
    forward = all_pages(
        lambda c: store.list_messages(TENANT, session.session_id, limit=4, cursor=c)
    )
    assert [m.seq for m in forward] == list(range(1, 12))
    first = store.list_messages(TENANT, session.session_id, limit=3, newest_first=True)
    assert [m.seq for m in first.items] == [11, 10, 9]
    backward = all_pages(
        lambda c: store.list_messages(
            TENANT, session.session_id, limit=3, newest_first=True, cursor=c
        )
    )
    assert [m.seq for m in backward] == list(range(11, 0, -1))
    last = store.list_messages(TENANT, session.session_id, limit=11)
    assert last.cursor is None


def test_message_cursor_is_bound_to_session_and_direction(store):
    session = new_session(store)
    other = new_session(store)
    foreign = new_session(store, tenant=OTHER, session_id=session.session_id)
    for sid in (session.session_id, other.session_id):
        for i in range(3):
            store.append_message(TENANT, sid, user(str(i)))
    store.append_message(OTHER, foreign.session_id, user("secret"))
    page = store.list_messages(TENANT, session.session_id, limit=1)
    with pytest.raises(InputError):
        store.list_messages(TENANT, other.session_id, limit=1, cursor=page.cursor)
    with pytest.raises(InputError):
        store.list_messages(OTHER, foreign.session_id, limit=1, cursor=page.cursor)
    with pytest.raises(InputError):
        store.list_messages(TENANT, session.session_id, newest_first=True, cursor=page.cursor)


def test_get_messages_by_range(store):
    session = new_session(store)
    for i in range(1, 8):
        store.append_message(TENANT, session.session_id, user(f"m{i}"))
    got = store.get_messages(TENANT, session.session_id, 3, 5)
    assert [m.content for m in got] == ["m3", "m4", "m5"]
    assert store.get_messages(TENANT, session.session_id, 5, 4) == []


def test_idempotent_append_keeps_one_copy(store):
    session = new_session(store)
    first = store.append_message(
        TENANT, session.session_id, user("hello"), idempotency_key="run1.step1.user"
    )
    again = store.append_message(
        TENANT, session.session_id, user("hello (retried)"), idempotency_key="run1.step1.user"
    )
    assert again.seq == first.seq == 1
    assert again.content == "hello"
    other = store.append_message(TENANT, session.session_id, user("next"), idempotency_key="k2")
    assert other.seq == 2
    contents = [m.content for m in store.list_messages(TENANT, session.session_id).items]
    assert contents == ["hello", "next"]


def test_concurrent_appends_get_unique_sequence_numbers(store):
    session = new_session(store)
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(8):
                store.append_message(TENANT, session.session_id, user(f"{n}-{i}"))
                # one retried append per writer: must not add a copy
                store.append_message(
                    TENANT, session.session_id, user(f"{n}-{i}"), idempotency_key=f"{n}-{i}"
                )
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    messages = all_pages(lambda c: store.list_messages(TENANT, session.session_id, cursor=c))
    assert [m.seq for m in messages] == list(range(1, 97))
    assert sorted(m.content for m in messages) == sorted(
        [f"{n}-{i}" for n in range(6) for i in range(8)] * 2
    )


def test_five_megabyte_tool_output_round_trips_through_blobs(store):
    session = new_session(store)
    output = "HEAD-" + "".join(chr(97 + i % 26) for i in range(5 * 1024 * 1024)) + "-TAIL"
    stored = store.append_message(
        TENANT, session.session_id, Message(role="tool", content=output, tool_call_id="c1")
    )
    assert stored.content == output
    assert stored.content_ref is not None
    assert stored.content_ref.size > 5 * 1024 * 1024

    full = store.list_messages(TENANT, session.session_id).items[0]
    assert full.content == output

    light = store.list_messages(TENANT, session.session_id, hydrate=False).items[0]
    assert light.content is None
    assert light.content_ref is not None
    assert light.content_ref.preview.startswith("HEAD-")
    assert light.content_ref.preview.endswith("-TAIL")
    assert len(light.content_ref.preview) < 3000
    chat = light.to_chat()
    assert chat["tool_call_id"] == "c1"
    assert "HEAD-" in chat["content"]
    assert store.blobs.list_keys(f"t/{TENANT}/s/{session.session_id}/") == [light.content_ref.key]


def test_large_tool_calls_round_trip_through_blobs_and_are_always_read_back(store):
    """An assistant message whose tool calls' arguments pass the item size is stored with
    them in the blob store; they come back even where content is only previewed, since a
    conversation without them is not valid."""
    session = new_session(store)
    calls = [
        {"id": f"call_{i}", "type": "function",
         "function": {"name": "echo", "arguments": '{"text": "' + "y" * 40_000 + '"}'}}
        for i in range(10)
    ]  # fmt: skip
    stored = store.append_message(
        TENANT, session.session_id, Message(role="assistant", content="On it.", tool_calls=calls)
    )
    assert stored.tool_calls == calls and stored.tool_calls_ref is not None
    assert stored.content == "On it." and stored.content_ref is None  # small: stays inline
    for hydrate in (True, False):
        [back] = store.list_messages(TENANT, session.session_id, hydrate=hydrate).items
        assert back.tool_calls == calls and back.content == "On it."
        [ranged] = store.get_messages(TENANT, session.session_id, 1, 1, hydrate=hydrate)
        assert ranged.to_chat()["tool_calls"] == calls


def test_small_payloads_stay_inline(store):
    session = new_session(store)
    stored = store.append_message(TENANT, session.session_id, user("x" * 1000))
    assert stored.content_ref is None
    assert store.blobs.list_keys(f"t/{TENANT}/s/{session.session_id}/") == []
