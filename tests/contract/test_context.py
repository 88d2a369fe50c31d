"""Context windows over both stores: budget, system prompt, tool-call pairs, summaries."""

from __future__ import annotations

import json

import pytest

from podium.errors import InputError
from podium.store.context import build_context
from podium.store.models import Message

from .helpers import TENANT, new_session, user


def count(messages: list[dict]) -> int:
    """A deterministic stand-in for a tokenizer: 4 per message plus 1 per 4 characters."""
    return sum(4 + len(json.dumps(m.get("content") or "")) // 4 for m in messages)


def fill(store, sid: str, turns: int, words: int = 40) -> None:
    for i in range(turns):
        store.append_message(TENANT, sid, user(f"question {i} " + "lorem " * words))
        store.append_message(
            TENANT, sid, Message(role="assistant", content=f"answer {i} " + "ipsum " * words)
        )


def tool_exchange(store, sid: str, n: int, calls: int = 2) -> None:
    tool_calls = [
        {"id": f"c{n}-{k}", "type": "function", "function": {"name": "f", "arguments": "{}"}}
        for k in range(calls)
    ]
    store.append_message(
        TENANT, sid, Message(role="assistant", content=None, tool_calls=tool_calls)
    )
    for k in range(calls):
        store.append_message(
            TENANT, sid, Message(role="tool", content="r" * 200, tool_call_id=f"c{n}-{k}")
        )


def assert_pairs_intact(messages: list[dict]) -> None:
    issued: set[str] = set()
    for m in messages:
        if m["role"] == "assistant":
            issued |= {c["id"] for c in m.get("tool_calls") or []}
        if m["role"] == "tool":
            assert m["tool_call_id"] in issued, "tool result without its call"
    answered = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
    assert issued <= answered, "tool call without its result"


def test_window_takes_the_newest_messages_within_budget(store):
    sid = new_session(store).session_id
    fill(store, sid, 50)
    window = build_context(
        store, TENANT, sid, system_prompt="You are terse.", budget_tokens=1000, token_counter=count
    )
    assert window.messages[0] == {"role": "system", "content": "You are terse."}
    assert window.tokens <= 1000
    assert not window.over_budget
    assert window.seqs == list(range(101 - len(window.seqs), 101))
    assert 5 < len(window.seqs) < 100
    # read only about what was needed, never the whole history
    assert window.items_read <= len(window.seqs) + 51


def test_short_history_fits_entirely(store):
    sid = new_session(store).session_id
    fill(store, sid, 3)
    window = build_context(
        store, TENANT, sid, system_prompt=None, budget_tokens=10_000, token_counter=count
    )
    assert window.seqs == [1, 2, 3, 4, 5, 6]
    assert window.messages[0]["role"] == "user"


def test_tool_calls_are_never_split_from_results(store):
    sid = new_session(store).session_id
    for n in range(12):
        store.append_message(TENANT, sid, user(f"do {n}"))
        tool_exchange(store, sid, n, calls=3)
        store.append_message(TENANT, sid, Message(role="assistant", content=f"done {n}"))
    for budget in range(100, 1200, 37):
        window = build_context(
            store, TENANT, sid, system_prompt="s", budget_tokens=budget, token_counter=count
        )
        assert window.messages[1]["role"] != "tool"
        assert_pairs_intact(window.messages)


def test_newest_exchange_is_kept_even_over_budget(store):
    sid = new_session(store).session_id
    fill(store, sid, 2)
    store.append_message(TENANT, sid, user("big " * 2000))
    window = build_context(
        store, TENANT, sid, system_prompt="s", budget_tokens=50, token_counter=count
    )
    assert window.over_budget
    assert window.seqs == [5]
    assert window.messages[0]["content"] == "s"


def test_offloaded_outputs_appear_as_previews(store):
    sid = new_session(store).session_id
    store.append_message(TENANT, sid, user("fetch it"))
    tool_calls = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    store.append_message(TENANT, sid, Message(role="assistant", tool_calls=tool_calls))
    store.append_message(
        TENANT,
        sid,
        Message(role="tool", content="A" * 1000 + "x" * 300_000 + "Z" * 1000, tool_call_id="c1"),
    )
    window = build_context(
        store, TENANT, sid, system_prompt="s", budget_tokens=5000, token_counter=count
    )
    tool = window.messages[-1]
    assert tool["role"] == "tool"
    assert len(tool["content"]) < 3000
    assert tool["content"].startswith("A" * 100)
    assert "Z" * 100 in tool["content"]


class RecordingSummarizer:
    def __init__(self) -> None:
        self.calls: list[list[dict]] = []

    def __call__(self, messages: list[dict]) -> str:
        self.calls.append(messages)
        return f"summary #{len(self.calls)} of {len(messages)} items"


def test_summarize_stores_a_summary_and_reuses_it(store):
    sid = new_session(store).session_id
    fill(store, sid, 40)
    summarizer = RecordingSummarizer()
    options = {
        "system_prompt": "sys",
        "budget_tokens": 1200,
        "token_counter": count,
        "strategy": "summarize",
        "summarizer": summarizer,
        "summary_model": "openai/gpt-4o-mini",
    }
    first = build_context(store, TENANT, sid, **options)
    assert len(summarizer.calls) == 1
    assert first.summary is not None
    assert first.summary.model == "openai/gpt-4o-mini"
    assert first.summary.from_seq == 1
    assert first.summary.to_seq == first.seqs[0] - 1
    assert first.messages[0]["content"] == "sys"
    assert first.messages[1]["content"].startswith("Summary of the earlier conversation")
    assert first.tokens <= 1200

    # the next turn reuses the stored summary without calling the model again
    store.append_message(TENANT, sid, user("one more"))
    second = build_context(store, TENANT, sid, **options)
    assert len(summarizer.calls) == 1
    assert second.summary == first.summary
    assert second.seqs[-1] == 81
    assert second.seqs[0] == first.summary.to_seq + 1

    # once enough new messages overflow, the summary is extended from the previous one
    fill(store, sid, 30)
    third = build_context(store, TENANT, sid, **options)
    assert len(summarizer.calls) == 2
    assert summarizer.calls[1][0]["content"].startswith("Summary of the earlier")
    assert third.summary is not None
    assert third.summary.from_seq == 1
    assert third.summary.to_seq > first.summary.to_seq
    assert third.summary.to_seq == third.seqs[0] - 1

    # stored history is never altered
    stored = store.get_messages(TENANT, sid, 1, 200)
    assert [m.seq for m in stored] == list(range(1, 142))
    assert stored[0].content.startswith("question 0")


def test_summarize_needs_a_summarizer(store):
    sid = new_session(store).session_id
    with pytest.raises(InputError):
        build_context(
            store,
            TENANT,
            sid,
            system_prompt="s",
            budget_tokens=100,
            token_counter=count,
            strategy="summarize",
        )


def _window(store, sid: str, cache, budget: int = 2000):
    last_seq = store.get_session(TENANT, sid).last_seq
    return build_context(
        store, TENANT, sid, system_prompt="sys", budget_tokens=budget, token_counter=count,
        cache=cache, last_seq=last_seq,
    )  # fmt: skip


def test_the_message_cache_builds_the_same_window_reading_only_what_is_new(store):
    from podium.store.context import MessageCache

    sid = new_session(store).session_id
    fill(store, sid, 300)  # 600 messages, far more than the budget holds
    for n in range(3):
        tool_exchange(store, sid, n)
    cache = MessageCache()
    first = _window(store, sid, cache)
    plain = _window(store, sid, None)
    assert first.messages == plain.messages
    # read newest first, a block at a time, only as far back as the window goes
    assert len(first.seqs) < first.items_read <= len(first.seqs) + 200
    fill(store, sid, 2)
    tool_exchange(store, sid, 9)
    second = _window(store, sid, cache)
    assert second.messages == _window(store, sid, None).messages
    assert second.items_read == 7  # the four new messages and the tool exchange's three
    assert_pairs_intact(second.messages)
    # a larger budget reaches further back: older blocks are read then, and kept
    wide = _window(store, sid, cache, budget=20_000)
    assert wide.messages == _window(store, sid, None, budget=20_000).messages
    assert _window(store, sid, cache, budget=20_000).items_read == 0


def test_the_message_cache_is_bounded_and_never_shows_newer_than_asked(store):
    from podium.store.context import MessageCache

    sid = new_session(store).session_id
    fill(store, sid, 100)
    cache = MessageCache(max_sessions=1, max_messages=50)
    last = store.get_session(TENANT, sid).last_seq
    seen = [m.seq for m in cache.newest_first(store, TENANT, sid, last_seq=last, after_seq=0,
                                              read=[0])]  # fmt: skip
    assert seen == list(range(last, 0, -1))  # everything, newest first, nothing repeated
    fill(store, sid, 40)
    read = [0]
    recent = cache.newest_first(store, TENANT, sid, last_seq=last + 80, after_seq=0, read=read)
    assert [m.seq for m in recent] == list(range(last + 80, 0, -1))
    entry = cache._entries[(TENANT, sid, 0.0)]
    assert len(entry.items) <= 50 and entry.low == entry.items[0].seq
    # a caller that read the session before the newest writes sees only what it asked for
    older = cache.newest_first(store, TENANT, sid, last_seq=last, after_seq=last - 3, read=[0])
    assert [m.seq for m in older] == [last, last - 1, last - 2]
    other = new_session(store).session_id
    fill(store, other, 1)
    list(cache.newest_first(store, TENANT, other, last_seq=2, after_seq=0, read=[0]))
    assert list(cache._entries) == [(TENANT, other, 0.0)]  # max_sessions=1: the older is dropped


def test_a_window_extended_from_the_last_one_is_the_one_a_full_build_makes(store):
    import random

    from podium.store.context import MessageCache

    rng = random.Random(7)
    sid = new_session(store).session_id
    cache = MessageCache()
    for step in range(40):
        kind = rng.choice(["user", "answer", "tools", "tools", "orphan", "big"])
        if kind == "user":
            store.append_message(TENANT, sid, user("q " + "w " * rng.randint(1, 200)))
        elif kind == "answer":
            store.append_message(
                TENANT, sid, Message(role="assistant", content="a " * rng.randint(1, 200))
            )
        elif kind == "tools":
            tool_exchange(store, sid, step, calls=rng.randint(1, 3))
        elif kind == "orphan":  # a late result whose call is in an earlier window
            store.append_message(
                TENANT, sid, Message(role="tool", content="late", tool_call_id=f"c{step - 1}-0")
            )
        else:
            store.append_message(TENANT, sid, user("x" * 6000))
        budget = 600 if step % 7 else 900  # now and then another budget: a full build
        extended = _window(store, sid, cache, budget=budget)
        assert extended.messages == _window(store, sid, None, budget=budget).messages, step
        assert extended.over_budget == _window(store, sid, None, budget=budget).over_budget
    # a second step of a turn reads only what the first step appended
    tool_exchange(store, sid, 99)
    assert _window(store, sid, cache, budget=600).items_read == 3


def test_a_session_deleted_and_created_again_never_sees_the_old_ones_messages(store, clock):
    from podium.store.context import MessageCache

    cache = MessageCache()

    def window(sid: str):
        session = store.get_session(TENANT, sid)
        return build_context(
            store, TENANT, sid, system_prompt=None, budget_tokens=1000, token_counter=count,
            cache=cache, last_seq=session.last_seq, session_created=session.created_at,
        )  # fmt: skip

    sid = "sess-fixed"
    store.create_session(TENANT, agent="a", agent_hash="h", session_id=sid)
    for i in range(4):
        store.append_message(TENANT, sid, user(f"secret {i}"))
    assert len(window(sid).messages) == 4
    store.delete_session(TENANT, sid)
    clock.advance(1)
    store.create_session(TENANT, agent="a", agent_hash="h", session_id="sess-fixed")
    store.append_message(TENANT, sid, user("new 0"))
    store.append_message(TENANT, sid, user("new 1"))
    assert [m["content"] for m in window(sid).messages] == ["new 0", "new 1"]
