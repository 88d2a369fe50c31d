"""The context builder's pure parts, and its default token counter (litellm)."""

from __future__ import annotations

from podium.store.blobs import DiskBlobStore
from podium.store.context import build_context, select, units
from podium.store.models import Message
from podium.store.sqlite import SqliteStore


def msg(seq: int, role: str, **kwargs) -> Message:
    return Message(seq=seq, role=role, **kwargs)


CALL = [
    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
    {"id": "c2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
]


def test_units_keep_calls_with_their_results():
    history = [
        msg(1, "user", content="q"),
        msg(2, "assistant", tool_calls=CALL),
        msg(3, "tool", content="r1", tool_call_id="c1"),
        msg(4, "tool", content="r2", tool_call_id="c2"),
        msg(5, "assistant", content="a"),
    ]
    grouped = list(units(iter(reversed(history))))
    assert [[m.seq for m in u] for u in grouped] == [[5], [2, 3, 4], [1]]


def test_a_unit_has_one_result_per_call_in_the_calls_order():
    """A history a crash or a provider left uneven still makes a window every provider
    accepts: results in call order, a repeated one once, a stray one dropped, a missing
    one stated."""
    history = [
        msg(1, "user", content="q"),
        msg(2, "assistant", tool_calls=CALL),
        msg(3, "tool", content="r2", tool_call_id="c2"),
        msg(4, "tool", content="r2 again", tool_call_id="c2"),
        msg(5, "tool", content="stray", tool_call_id="zz"),
        msg(6, "user", content="next"),
    ]
    [newest, unit, first] = list(units(iter(reversed(history))))
    assert [m.tool_call_id for m in unit[1:]] == ["c1", "c2"]
    assert unit[1].content.startswith("Error: no result") and unit[1].name == "f"
    assert unit[2].content == "r2"
    assert [m.seq for m in newest] == [6] and [m.seq for m in first] == [1]


def test_orphan_tool_results_are_dropped():
    history = [msg(1, "user", content="q"), msg(2, "tool", content="r", tool_call_id="x")]
    assert [[m.seq for m in u] for u in units(iter(reversed(history)))] == [[1]]


def test_select_stops_at_the_first_unit_that_does_not_fit():
    stream = iter([[msg(3, "user", content="c")], [msg(2, "user")], [msg(1, "user")]])
    chosen, exhausted, used = select(stream, budget=2, count=len)
    assert [[m.seq for m in u] for u in chosen] == [[2], [3]]
    assert not exhausted
    assert used == 2


def test_default_counter_is_litellms(tmp_path):
    store = SqliteStore(tmp_path / "db", blobs=DiskBlobStore(tmp_path / "b"))
    sid = store.create_session("acme", agent="helper", agent_hash="h").session_id
    for i in range(30):
        store.append_message("acme", sid, Message(role="user", content=f"message number {i} " * 10))
    window = build_context(
        store, "acme", sid, system_prompt="be brief", budget_tokens=300, model="gpt-4o-mini"
    )
    assert 0 < window.tokens <= 300
    assert window.seqs[-1] == 30
    assert len(window.seqs) < 30
    store.close()
