"""API keys, short-lived event-stream tokens, and per-key rate limits.

Keys look like `pk_<random>`; only their sha256 is stored. A browser's EventSource cannot send
headers, so an authenticated caller mints a token for one session's events (HMAC-signed,
minutes long) that the events routes accept in the query string.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podium.errors import AuthError, ForbiddenError, NotFoundError, RateLimitError
from podium.store.ids import hash_api_key
from podium.store.models import ApiKey

if TYPE_CHECKING:
    from podium.store.base import Store

KEY_PREFIX = "pk_"
SCOPES = ("runs", "sessions:read", "admin")
"""`runs`: create sessions and runs, decide approvals; `sessions:read`: read only; `admin`:
everything, including usage across the tenant."""
DEFAULT_SCOPES = ["runs", "sessions:read"]
EVENT_TOKEN_TTL_S = 300


@dataclass(frozen=True)
class Principal:
    """Who is calling: a tenant and what its key may do."""

    tenant: str
    scopes: frozenset[str]
    key_hash: str | None = None

    def require(self, scope: str) -> None:
        if scope not in self.scopes and "admin" not in self.scopes:
            raise ForbiddenError(f"this key lacks the {scope!r} scope")


def create_key(
    store: Store, tenant: str, *, scopes: list[str] | None = None, name: str = "",
    rate_limit_per_min: int | None = None, now: float | None = None,
) -> tuple[str, ApiKey]:  # fmt: skip
    """A new key: the secret (shown once) and what is stored (its hash)."""
    wanted = scopes or list(DEFAULT_SCOPES)
    unknown = sorted(set(wanted) - set(SCOPES))
    if unknown:
        raise ForbiddenError(f"unknown scope(s) {unknown}; known: {list(SCOPES)}")
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    record = ApiKey(
        key_hash=hash_api_key(secret),
        tenant=tenant,
        name=name,
        scopes=wanted,
        rate_limit_per_min=rate_limit_per_min,
        created_at=time.time() if now is None else now,
    )
    return secret, store.put_api_key(record)


def authenticate_key(store: Store, secret: str) -> tuple[Principal, ApiKey]:
    """The principal of a bearer key; AuthError when unknown or revoked."""
    if not secret.startswith(KEY_PREFIX):
        raise AuthError("invalid API key")
    try:
        record = store.get_api_key(hash_api_key(secret))
    except NotFoundError:
        raise AuthError("invalid API key") from None
    if record.revoked:
        raise AuthError("this API key was revoked")
    return Principal(record.tenant, frozenset(record.scopes), record.key_hash), record


# ----------------------------------------------------------------------------- tokens


class TokenSigner:
    """HMAC tokens naming a tenant, a session and an expiry."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 32:
            raise ValueError("the signing key must be at least 32 bytes")
        self.key = key

    @classmethod
    def from_file(cls, path: Path) -> TokenSigner:
        """The local server's key, created on first use and kept under PODIUM_HOME."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(secrets.token_bytes(32))
            path.chmod(0o600)
        return cls(path.read_bytes())

    def mint(self, tenant: str, session_id: str, ttl_s: float = EVENT_TOKEN_TTL_S) -> str:
        body = json.dumps({"t": tenant, "s": session_id, "e": int(time.time() + ttl_s)},
                          separators=(",", ":")).encode()  # fmt: skip
        signature = hmac.new(self.key, body, hashlib.sha256).digest()
        return f"{_b64(body)}.{_b64(signature)}"

    def verify(self, token: str, session_id: str) -> Principal:
        try:
            raw_body, raw_signature = token.split(".", 1)
            body, signature = _unb64(raw_body), _unb64(raw_signature)
            claims = json.loads(body)
        except (ValueError, TypeError):
            raise AuthError("invalid events token") from None
        expected = hmac.new(self.key, body, hashlib.sha256).digest()
        if not hmac.compare_digest(expected, signature):
            raise AuthError("invalid events token")
        if claims.get("e", 0) < time.time():
            raise AuthError("the events token expired; mint a new one")
        if claims.get("s") != session_id:
            raise AuthError("the events token is for another session")
        return Principal(str(claims["t"]), frozenset({"sessions:read"}))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# ----------------------------------------------------------------------------- rate limits


class RateLimiter:
    """Requests per key per minute (a sliding window in this process)."""

    def __init__(self, default_per_min: int) -> None:
        self.default_per_min = default_per_min
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def check(self, key: str, limit_per_min: int | None) -> None:
        limit = limit_per_min or self.default_per_min
        if limit <= 0:
            return
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and now - hits[0] >= 60:
                hits.popleft()
            if len(hits) >= limit:
                retry_after = max(1, int(60 - (now - hits[0])) + 1)
                raise RateLimitError(
                    f"rate limit of {limit} requests a minute reached", retry_after=retry_after
                )
            hits.append(now)
