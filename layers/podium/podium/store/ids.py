"""Identifiers that sort by time, and the deterministic ids of the event log.

Run and session ids are ULID-like: 26 characters of Crockford base32, 48 bits of
milliseconds then 80 random bits, so their lexical order is their creation order (ids made
in the same millisecond by one process stay ordered: the random part is incremented).

Event ids are `<run>.<step:04d>.<attempt:02d>.<seq:06d>`: zero-padded, so lexical order is
causal order within a run and, because run ids sort by time, across the runs of a session.
A retried step uses a new attempt number, so it never overwrites the events of an earlier
attempt, and re-sending the same event id is recognised as a duplicate.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any

from podium.errors import InputError

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_LENGTH = 26
MAX_STEP = 9_999
MAX_ATTEMPT = 99
MAX_EVENT_SEQ = 999_999

_ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
_EVENT_RE = re.compile(r"^([0-9A-HJKMNP-TV-Z]{26})\.(\d{4})\.(\d{2})\.(\d{6})$")
# Tenants, sessions, agents, owners and the like end up inside keys (`T#<tenant>#S#<id>`)
# and blob paths: a `#` or `/` in them could reach another tenant's items.
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127}$")

_lock = threading.Lock()
_last: tuple[int, int] = (0, 0)


def _encode(value: int, length: int) -> str:
    chars = []
    for _ in range(length):
        chars.append(CROCKFORD[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_ulid(now: float | None = None) -> str:
    """Return a new 26-character, time-sortable id (monotonic within one process)."""
    global _last  # noqa: PLW0603 — process-wide monotonic state, guarded by _lock
    millis = int((time.time() if now is None else now) * 1000)
    with _lock:
        last_ms, last_rand = _last
        if millis == last_ms and last_rand < (1 << 80) - 1:
            rand = last_rand + 1
        else:
            rand = int.from_bytes(os.urandom(10), "big")
        _last = (millis, rand)
    return _encode(millis, 10) + _encode(rand, 16)


def new_run_id(now: float | None = None) -> str:
    """Return a new run id (ULID-like, sorts by creation time)."""
    return new_ulid(now)


def new_session_id(now: float | None = None) -> str:
    """Return a new session id (ULID-like, sorts by creation time)."""
    return new_ulid(now)


def ulid_time(ulid: str) -> float:
    """Return the creation time (epoch seconds) encoded in a ULID-like id."""
    if not _ULID_RE.match(ulid):
        raise InputError(f"not a ULID: {ulid!r}")
    millis = 0
    for char in ulid[:10]:
        millis = millis * 32 + CROCKFORD.index(char)
    return millis / 1000


def event_id(run_id: str, step: int, attempt: int, seq: int) -> str:
    """Return the deterministic id of the `seq`-th event of a step's attempt."""
    if not _ULID_RE.match(run_id):
        raise InputError(f"event ids need a ULID-like run id, got {run_id!r}")
    if not (0 <= step <= MAX_STEP and 0 <= attempt <= MAX_ATTEMPT and 0 <= seq <= MAX_EVENT_SEQ):
        raise InputError(
            "event id out of range",
            step=step,
            attempt=attempt,
            seq=seq,
            limits={"step": MAX_STEP, "attempt": MAX_ATTEMPT, "seq": MAX_EVENT_SEQ},
        )
    return f"{run_id}.{step:04d}.{attempt:02d}.{seq:06d}"


def parse_event_id(value: str) -> tuple[str, int, int, int]:
    """Split an event id into (run id, step, attempt, seq)."""
    match = _EVENT_RE.match(value)
    if match is None:
        raise InputError(f"not an event id: {value!r}")
    return match[1], int(match[2]), int(match[3]), int(match[4])


def is_event_id(value: str) -> bool:
    """Whether `value` has the shape of an event id."""
    return _EVENT_RE.match(value) is not None


def check_name(value: str, what: str) -> str:
    """Return `value` if it is safe inside a key, else raise InputError."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise InputError(
            f"invalid {what}: {value!r} (1-128 of A-Z a-z 0-9 _ . : @ -, starting alphanumeric)"
        )
    return value


def content_hash(definition: Any) -> str:
    """Return the sha256 of a definition's canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def hash_api_key(secret: str) -> str:
    """Return the sha256 hex digest under which an API key is stored (never the key itself)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def utc_day(now: float) -> str:
    """The UTC day of an epoch time, `YYYY-MM-DD`."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")


def check_model_name(model: str) -> str:
    """Model names (`provider/model`) go into keys: refuse `#` and control characters."""
    if not model or "#" in model or len(model) > 200 or not model.isprintable():
        raise InputError(f"invalid model name: {model!r}")
    return model
