"""Moving large payloads to the blob store, and cursors: helpers shared by both stores."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import TYPE_CHECKING, Any

from podium import settings
from podium.errors import InputError
from podium.store.ids import new_ulid
from podium.store.models import BlobRef

if TYPE_CHECKING:
    from podium.store.blobs import BlobStore

DEFAULT_BLOB_THRESHOLD = settings.DEFAULT_BLOB_THRESHOLD
"""Payloads whose JSON is larger than this many bytes go to the blob store (200 KB)."""
PREVIEW_CHARS = 1000
"""Characters kept from each end of an offloaded payload's text as its preview."""


def dumps(value: Any) -> str:
    """Compact JSON, as stored."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def preview(text: str, chars: int = PREVIEW_CHARS) -> str:
    """Return the head and tail of `text`, marking what was left out."""
    if len(text) <= 2 * chars:
        return text
    omitted = len(text) - 2 * chars
    return f"{text[:chars]}\n…[{omitted} characters omitted]…\n{text[-chars:]}"


def session_prefix(tenant: str, session_id: str) -> str:
    """The blob key prefix holding everything of one session."""
    return f"t/{tenant}/s/{session_id}/"


def offload(
    value: Any,
    *,
    blobs: BlobStore,
    prefix: str,
    kind: str,
    threshold: int,
    preview_text: str | None = None,
) -> tuple[Any, BlobRef | None]:
    """Return `(value, None)` if small, else store it and return `(None, reference)`."""
    if value is None:
        return None, None
    data = dumps(value).encode()
    if len(data) <= threshold:
        return value, None
    key = f"{prefix}{kind}/{new_ulid()}"
    blobs.put(key, data)
    text = preview_text if preview_text is not None else data.decode()
    digest = hashlib.sha256(data).hexdigest()
    return None, BlobRef(key=key, size=len(data), sha256=digest, preview=preview(text))


def load(ref: BlobRef, blobs: BlobStore) -> Any:
    """Read an offloaded payload back."""
    return json.loads(blobs.get(ref.key))


def encode_cursor(scope: str, position: Any) -> str:
    """An opaque cursor: the listing's scope (tenant, partition, filters) and its position."""
    raw = dumps({"s": scope, "p": position}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, scope: str) -> Any:
    """The position in a cursor; InputError if malformed or made for another listing.

    Binding the scope (which includes the tenant) means a cursor obtained by one tenant can
    never page through another tenant's data.
    """
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InputError("invalid cursor") from None
    if not isinstance(body, dict) or body.get("s") != scope or "p" not in body:
        raise InputError("invalid cursor: it belongs to another listing")
    return body["p"]
