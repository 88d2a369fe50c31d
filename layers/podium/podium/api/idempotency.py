"""`Idempotency-Key` on the routes that start something (a session, a run, a chat turn): a
client that retries a request it is unsure went through gets the first request's outcome, and
nothing starts twice. The store's one idempotency mechanism keeps the keys, per tenant, for a
day; the same key sent with another request is refused (422), and one whose first request is
still at work is answered 409 with `Retry-After`."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from fastapi import Request

from podium.api.context import ApiContext
from podium.errors import InputError

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
MAX_KEY_CHARS = 255
KEEP_S = 86_400.0
LEASE_S = 60.0
"""A first request that has not finished in this long is taken to have died: a retry runs."""


def request_key(request: Request) -> str | None:
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not key.strip() or len(key) > MAX_KEY_CHARS or not key.isprintable():
        raise InputError(f"{HEADER} must be 1 to {MAX_KEY_CHARS} printable characters")
    return key


def fingerprint(request: Request, body: str) -> str:
    """What identifies the request a key was sent with: its route and its body."""
    return fingerprint_of(request.method, request.url.path, body)


def fingerprint_of(method: str, path: str, body: str) -> str:
    text = f"{method} {path}\n{body}"
    return hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def once(
    ctx: ApiContext,
    tenant: str,
    key: str | None,
    print_: str,
    work: Callable[[], dict[str, Any]],
) -> tuple[dict[str, Any], bool]:
    """`work()`'s result, done at most once per key: (result, whether it was replayed)."""
    if key is None:
        return work(), False
    store, scope = ctx.runtime.store, f"api:{tenant}"
    record = store.claim_idempotency_key(
        scope, key, fingerprint=print_, lease_s=LEASE_S, keep_s=KEEP_S
    )
    if record.status == "completed" and record.result is not None:
        return record.result, True
    try:
        result = work()
    except BaseException:
        store.release_idempotency_key(scope, key)
        raise
    store.complete_idempotency_key(scope, key, result)
    return result, False
