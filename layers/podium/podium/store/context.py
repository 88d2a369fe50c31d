"""Context windows: the model's input built from the newest messages within a token budget.

The builder reads the session newest first, one page at a time, and stops as soon as the
budget is full: the cost of a turn depends on the budget, not on the length of the history.
With the message cache, the next window of a session (the next step of a turn) extends the
last one: the new messages' units, then the last window's, chosen by the same rule.

- The system prompt is always kept.
- Messages are taken in units: an assistant message with tool calls travels with its tool
  results, so a call is never separated from its result (providers reject that).
- Offloaded payloads (a 5 MB tool output) appear as their head-and-tail preview.
- `summarize`: when older messages do not fit, a summary produced by the named model (the
  injected `summarizer`) stands in for them. It is stored beside the history with the range
  of sequence numbers it covers, reused on later turns and extended when more messages fall
  out of the window. Stored history is never altered.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from podium.errors import InputError
from podium.settings import LITELLM_OFFLINE_ENV
from podium.store.models import Message, Summary

if TYPE_CHECKING:
    from podium.store.base import Store

logger = logging.getLogger(__name__)

ChatMessage = dict[str, Any]
TokenCounter = Callable[[list[ChatMessage]], int]
"""Counts the tokens of a list of chat messages."""
Strategy = Literal["window", "summarize"]
SUMMARY_RESERVE = 4
"""With `summarize`, 1/4 of the budget is kept for the summary."""


class Summarizer(Protocol):
    """Writes a summary of chat messages (the models layer supplies one backed by a model)."""

    def __call__(self, messages: list[ChatMessage]) -> str:
        """Return the summary text."""
        ...


@dataclass
class ContextWindow:
    """What goes to the model, and what building it cost."""

    messages: list[ChatMessage]
    """System prompt, summary (if any), then the newest messages, oldest first."""
    tokens: int
    """Tokens counted for `messages`."""
    items_read: int
    """Store items read to build it (messages and summary)."""
    first_seq: int | None = None
    """Sequence number of the oldest message included."""
    summary: Summary | None = None
    over_budget: bool = False
    """True when the newest exchange alone exceeds the budget (it is included anyway)."""
    seqs: list[int] = field(default_factory=list)


def litellm_counter(model: str) -> TokenCounter:
    """A token counter backed by `litellm.token_counter` for `model` (imported on first use)."""

    def count(messages: list[ChatMessage]) -> int:
        for name, value in LITELLM_OFFLINE_ENV.items():
            os.environ.setdefault(name, value)
        import litellm  # noqa: PLC0415 — ~3 s to import: only where a context is built

        return int(litellm.token_counter(model=model, messages=messages))

    return count


def units(messages: Iterator[Message]) -> Iterator[list[Message]]:
    """Group messages read newest first into units, yielded newest first.

    A unit is one message, or an assistant message with tool calls followed by exactly one
    result per call, in the calls' order, as every provider requires. Tool results whose
    call is missing are dropped (they cannot be sent alone); a call left without a result
    (its run ended before it was written) gets one saying so, in the window only.
    """
    pending: list[Message] = []
    for message in messages:
        if message.role == "tool":
            pending.insert(0, message)
            continue
        if message.role == "assistant" and message.tool_calls:
            yield [message, *answered(message, pending)]
            pending = []
            continue
        if pending:
            logger.warning("seq=%d | dropped tool results without their call", pending[0].seq)
            pending = []
        yield [message]


NO_RESULT = "Error: no result was recorded for this call (its run ended before it did)."


def answered(call: Message, results: list[Message]) -> list[Message]:
    """One result per call of `call`, in the calls' order: the first stored for each id, or
    one saying there is none."""
    by_id: dict[str, Message] = {}
    for result in results:
        by_id.setdefault(str(result.tool_call_id), result)
    out = []
    for item in call.tool_calls or []:
        call_id = str(item.get("id"))
        found = by_id.get(call_id)
        if found is None:
            name = (item.get("function") or {}).get("name")
            found = Message(role="tool", tool_call_id=call_id, name=name, content=NO_RESULT,
                            run_id=call.run_id, seq=call.seq)  # fmt: skip
        out.append(found)
    if len(results) != len(out) or any(a is not b for a, b in zip(results, out, strict=False)):
        logger.warning("seq=%d | the calls' results were completed or reordered", call.seq)
    return out


def unit_tokens(unit: list[Message], count: TokenCounter) -> int:
    """A unit's tokens: the counts stored with its messages, or counted now and kept on the
    message objects (which the message cache holds between turns), so each is counted once."""
    total = 0
    for message in unit:
        tokens = message.tokens
        if tokens is None:
            tokens = message.tokens = count([message.to_chat()])
        total += tokens
    return total


def select(
    unit_stream: Iterator[list[Message]], budget: int, count: TokenCounter
) -> tuple[list[list[Message]], bool, int]:
    """Take the newest units while they fit in `budget` tokens (always the newest one).

    Returns (units oldest first, whether the stream ended before the budget did, tokens).
    """
    chosen: list[list[Message]] = []
    used = 0
    for unit in unit_stream:
        tokens = unit_tokens(unit, count)
        if chosen and used + tokens > budget:
            return list(reversed(chosen)), False, used
        chosen.append(unit)
        used += tokens
        if used > budget:
            return list(reversed(chosen)), False, used
    return list(reversed(chosen)), True, used


def _newest_first(
    store: Store, tenant: str, session_id: str, *, page_size: int, after_seq: int, read: list[int]
) -> Iterator[Message]:
    cursor: str | None = None
    while True:
        page = store.list_messages(
            tenant, session_id, limit=page_size, cursor=cursor, newest_first=True, hydrate=False
        )
        for message in page.items:
            read[0] += 1
            if message.seq <= after_seq:
                return
            yield message
        if page.cursor is None:
            return
        cursor = page.cursor


@dataclass(frozen=True)
class _Window:
    """The last window built for a session: its units (oldest first) of the messages after
    `after_seq` up to `last_seq`, within `available` tokens."""

    last_seq: int
    after_seq: int
    available: int
    units: list[list[Message]]


@dataclass
class _Cached:
    """One session's cached messages: every stored message with `low <= seq <= high`, in
    `items` by seq (a gap is a message that expired); and its last window."""

    low: int
    high: int
    items: list[Message]
    window: _Window | None = None


class MessageCache:
    """Recent messages of recent sessions, kept in memory between turns.

    Stored messages never change, so a turn needs to read only what was appended since the
    last one (a handful of items) instead of its whole window again; older messages are read
    a block at a time, only as far back as the window goes. Bounded: at most `max_sessions`
    sessions (least recently used dropped) of at most `max_messages` each (the newest).
    """

    def __init__(self, *, max_sessions: int = 256, max_messages: int = 5000) -> None:
        self.max_sessions = max_sessions
        self.max_messages = max_messages
        self._entries: OrderedDict[tuple[str, str, float], _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def newest_first(
        self, store: Store, tenant: str, session_id: str, *, last_seq: int, after_seq: int,
        read: list[int], block: int = 200, generation: float = 0.0,
    ) -> Iterator[Message]:  # fmt: skip
        """Messages `last_seq` down to `after_seq + 1`, from memory where possible.
        `generation` (the session's creation time) tells a session deleted and created again
        under the same id from the one before: its messages are never served for it."""
        entry, items, low = self._entry(
            store, tenant, session_id, last_seq=last_seq, read=read, generation=generation
        )
        low = min(low, last_seq + 1)  # a caller behind the cache reads below what it asked
        for index in range(len(items) - 1, -1, -1):
            message = items[index]
            if message.seq <= after_seq:
                return
            if message.seq <= last_seq:
                yield message
        while low > after_seq + 1:
            start = max(after_seq + 1, low - block)
            older = store.get_messages(tenant, session_id, start, low - 1, hydrate=False)
            read[0] += len(older)
            older.sort(key=lambda m: m.seq)
            with self._lock:
                room = self.max_messages - len(entry.items)
                if entry.low == low and room > 0:  # keep the newest of the block that fit
                    kept = older[-room:] if len(older) > room else older
                    entry.items = kept + entry.items
                    entry.low = start if len(kept) == len(older) else kept[0].seq
            yield from reversed(older)
            low = start

    def last_window(self, tenant: str, session_id: str, generation: float) -> _Window | None:
        with self._lock:
            entry = self._entries.get((tenant, session_id, generation))
            return None if entry is None else entry.window

    def remember_window(
        self, tenant: str, session_id: str, generation: float, window: _Window
    ) -> None:
        with self._lock:
            entry = self._entries.get((tenant, session_id, generation))
            if entry is not None and (
                entry.window is None or entry.window.last_seq <= window.last_seq
            ):
                entry.window = window

    def _entry(
        self, store: Store, tenant: str, session_id: str, *, last_seq: int, read: list[int],
        generation: float,
    ) -> tuple[_Cached, list[Message], int]:  # fmt: skip
        """The session's entry brought up to `last_seq`, and this call's view of it: its
        messages and the lowest seq they cover (another call may replace the entry's). An
        unknown session starts empty: its messages are read as far back as the window goes."""
        key = (tenant, session_id, generation)
        with self._lock:
            entry = self._entries.pop(key, None)
            if entry is None or last_seq - entry.high > self.max_messages:
                entry = _Cached(low=last_seq + 1, high=last_seq, items=[])
            self._entries[key] = entry
            while len(self._entries) > self.max_sessions:
                self._entries.popitem(last=False)
            high, items, low = entry.high, entry.items, entry.low
        if last_seq <= high:
            return entry, items, low
        fresh = store.get_messages(tenant, session_id, high + 1, last_seq, hydrate=False)
        read[0] += len(fresh)
        items = items + sorted(fresh, key=lambda m: m.seq)
        if len(items) > self.max_messages:
            items = items[-self.max_messages :]
            low = items[0].seq
        with self._lock:
            if entry.high == high:  # nobody moved it meanwhile
                entry.items, entry.low, entry.high = items, low, last_seq
        return entry, items, low


def build_context(
    store: Store,
    tenant: str,
    session_id: str,
    *,
    system_prompt: str | None,
    budget_tokens: int,
    model: str = "gpt-4o-mini",
    token_counter: TokenCounter | None = None,
    strategy: Strategy = "window",
    summarizer: Summarizer | None = None,
    summary_model: str | None = None,
    page_size: int = 50,
    cache: MessageCache | None = None,
    last_seq: int | None = None,
    session_created: float = 0.0,
) -> ContextWindow:
    """Build the model's input for the next turn of a session (see the module docstring).

    `token_counter` defaults to litellm's for `model`. `strategy="summarize"` needs a
    `summarizer` and the `summary_model` it uses (recorded on the summary). With a `cache`,
    `last_seq` is the session's and `session_created` its creation time.
    """
    if strategy == "summarize" and (summarizer is None or summary_model is None):
        raise InputError("strategy 'summarize' needs a summarizer and a summary_model")
    count = token_counter or litellm_counter(model)
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    system_tokens = count(system) if system else 0
    read = [0]
    summary = store.get_summary(tenant, session_id) if strategy == "summarize" else None
    summary_chat = [summary.to_chat()] if summary else []
    if summary is not None:
        read[0] += 1
    summary_tokens = count(summary_chat) if summary_chat else 0
    covered = summary.to_seq if summary else 0

    loaded: list[Message] = []

    if cache is not None and last_seq is not None:
        source = cache.newest_first(
            store, tenant, session_id, last_seq=last_seq, after_seq=covered, read=read,
            generation=session_created,
        )  # fmt: skip
    else:
        source = _newest_first(
            store, tenant, session_id, page_size=page_size, after_seq=covered, read=read
        )

    def kept(source: Iterator[Message]) -> Iterator[Message]:
        for message in source:
            loaded.append(message)  # summarize selects again from what was read
            yield message

    available = budget_tokens - system_tokens - summary_tokens
    memo = None
    if strategy == "window" and cache is not None and last_seq is not None:
        memo = _extend_window(
            cache, store, tenant, session_id, last_seq=last_seq, available=available, read=read,
            generation=session_created,
        )  # fmt: skip
    if memo is not None:  # (`exhausted` matters to `summarize` only, which never gets here)
        chosen, exhausted, used = select(memo, available, count)
    else:
        stream = kept(source) if strategy == "summarize" else source
        chosen, exhausted, used = select(units(stream), available, count)
    if strategy == "window" and cache is not None and last_seq is not None:
        cache.remember_window(tenant, session_id, session_created, _Window(
            last_seq=last_seq, after_seq=covered, available=available, units=chosen))  # fmt: skip

    if strategy == "summarize" and not exhausted and summarizer is not None:
        # Older messages do not fit: summarize them, keeping only half of what remains for
        # recent messages so that the next turns fit without summarizing again.
        reserve = max(summary_tokens, budget_tokens // SUMMARY_RESERVE)
        keep_budget = max(0, (budget_tokens - system_tokens - reserve) // 2)
        chosen, _, used = select(units(iter(loaded)), keep_budget, count)
        first = chosen[0][0].seq if chosen else (loaded[-1].seq + 1 if loaded else covered + 1)
        summary = _extend_summary(
            store,
            tenant,
            session_id,
            previous=summary,
            to_seq=first - 1,
            summarizer=summarizer,
            summary_model=summary_model or "",
            read=read,
        )
        summary_chat = [summary.to_chat()] if summary else []
        summary_tokens = count(summary_chat) if summary else 0

    picked = [m for unit in chosen for m in unit]
    messages = [*system, *summary_chat, *(m.to_chat() for m in picked)]
    tokens = system_tokens + summary_tokens + used
    return ContextWindow(
        messages=messages,
        tokens=tokens,
        items_read=read[0],
        first_seq=picked[0].seq if picked else None,
        summary=summary,
        over_budget=tokens > budget_tokens,
        seqs=[m.seq for m in picked],
    )


def _extend_window(
    cache: MessageCache,
    store: Store,
    tenant: str,
    session_id: str,
    *,
    last_seq: int,
    available: int,
    read: list[int],
    generation: float,
) -> Iterator[list[Message]] | None:
    """The units to choose from, newest first, when the session's last window can be
    extended (the next step of a turn): the new messages' units, then that window's. Only a
    window of the same budget qualifies, and only when the new messages form whole units
    (a new tool result whose call is older means a full build). With more to fit, the choice
    stops within the last window, so it is the one a full build makes."""
    last = cache.last_window(tenant, session_id, generation)
    if last is None or last.after_seq != 0 or last.available != available:
        return None
    if last.last_seq > last_seq:
        return None
    fresh = list(
        cache.newest_first(
            store,
            tenant,
            session_id,
            last_seq=last_seq,
            after_seq=last.last_seq,
            read=read,
            generation=generation,
        )
    )
    grouped = list(units(iter(fresh)))
    if sum(len(unit) for unit in grouped) != len(fresh):
        return None  # a tool result of an older call: its unit spans the last window
    return iter(grouped + list(reversed(last.units)))


def _extend_summary(
    store: Store,
    tenant: str,
    session_id: str,
    *,
    previous: Summary | None,
    to_seq: int,
    summarizer: Summarizer,
    summary_model: str,
    read: list[int],
) -> Summary | None:
    """Summarize the previous summary plus messages up to `to_seq`, and store the result."""
    start = previous.to_seq + 1 if previous else 1
    if to_seq < start:
        return previous
    older = store.get_messages(tenant, session_id, start, to_seq, hydrate=False)
    read[0] += len(older)
    inputs = ([previous.to_chat()] if previous else []) + [m.to_chat() for m in older]
    text = summarizer(inputs)
    summary = Summary(
        session_id=session_id,
        from_seq=previous.from_seq if previous else 1,
        to_seq=to_seq,
        content=text,
        model=summary_model,
    )
    logger.info(
        "session=%s from_seq=%d to_seq=%d model=%s | context summary stored",
        session_id,
        summary.from_seq,
        to_seq,
        summary_model,
    )
    return store.put_summary(tenant, session_id, summary)
