"""Idempotency keys, one mechanism for both stores: what a claim decides given the record
found, and how keys are kept (their digest, never the key itself)."""

from __future__ import annotations

import hashlib

from podium.errors import IdempotencyInProgressError, IdempotencyKeyReusedError
from podium.store.models import IdempotencyRecord


def key_digest(key: str) -> str:
    """What is stored for a key: its sha-256 (keys are client strings of any length)."""
    return hashlib.sha256(key.encode("utf-8", errors="surrogatepass")).hexdigest()


def claimed(
    found: IdempotencyRecord | None,
    *,
    scope: str,
    key: str,
    fingerprint: str,
    lease_s: float,
    keep_s: float,
    now: float,
) -> IdempotencyRecord:
    """The record a claim writes (or a completed one it returns unchanged) given the record
    found; raises when the claim is refused. An expired record counts as none."""
    if found is not None and found.expires_at <= now:
        found = None
    if found is None:
        return IdempotencyRecord(
            scope=scope, key=key, fingerprint=fingerprint, first_claimed_at=now,
            lease_until=now + lease_s, expires_at=now + keep_s,
        )  # fmt: skip
    if found.fingerprint != fingerprint:
        raise IdempotencyKeyReusedError(
            "this idempotency key was sent before with a different request"
        )
    if found.status == "completed":
        return found
    if found.lease_until is not None and found.lease_until > now:
        raise IdempotencyInProgressError(
            "a request with this idempotency key is still at work; retry later",
            retry_after=max(1, round(found.lease_until - now)),
        )
    return found.model_copy(
        update={"attempts": found.attempts + 1, "lease_until": now + lease_s}
    )  # its holder died: taken over
