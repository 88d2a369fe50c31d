"""Blob stores for payloads too large for an item: a local directory, or S3.

Keys are `/`-separated paths; everything of a session lives under one prefix
(`t/<tenant>/s/<session>/`), so deleting a session deletes its blobs by prefix.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from podium.errors import InputError, NotFoundError, StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator

logger = logging.getLogger(__name__)

S3_DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys per call


@runtime_checkable
class BlobStore(Protocol):
    """Where large payloads go; the store keeps a reference and a preview."""

    def put(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, replacing what was there."""
        ...

    def get(self, key: str) -> bytes:
        """Return the bytes under `key`; NotFoundError if there are none."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every blob whose key starts with `prefix`; return how many."""
        ...

    def list_keys(self, prefix: str) -> list[str]:
        """Return the keys starting with `prefix`, sorted."""
        ...


def _check_key(key: str) -> list[str]:
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts[:-1]):
        raise InputError(f"invalid blob key: {key!r}")
    if parts[-1] in (".", ".."):
        raise InputError(f"invalid blob key: {key!r}")
    return parts


class DiskBlobStore:
    """Blobs as files under a root directory (the local default: `$PODIUM_HOME/blobs`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        parts = _check_key(key)
        if parts[-1] == "":
            raise InputError(f"invalid blob key: {key!r}")
        return self.root.joinpath(*parts)

    def put(self, key: str, data: bytes) -> None:
        """Write atomically (temporary file, then rename)."""
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(tmp).replace(path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        """Read a blob."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"blob not found: {key}") from None

    def _walk(self, prefix: str) -> Iterator[tuple[str, Path]]:
        parts = _check_key(prefix) if prefix else [""]
        base = self.root.joinpath(*parts[:-1])
        if not base.is_dir():
            return
        for path in base.rglob("*"):
            if path.is_file() and not path.name.startswith(".tmp-"):
                key = path.relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    yield key, path

    def delete_prefix(self, prefix: str) -> int:
        """Delete the files under the prefix and the directories left empty."""
        count = 0
        for _, path in list(self._walk(prefix)):
            path.unlink(missing_ok=True)
            count += 1
        parts = _check_key(prefix) if prefix else [""]
        base = self.root.joinpath(*parts[:-1])
        if prefix.endswith("/") and base.is_dir():
            for directory in sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if directory.is_dir() and not any(directory.iterdir()):
                    directory.rmdir()
            if not any(base.iterdir()):
                base.rmdir()
        return count

    def list_keys(self, prefix: str) -> list[str]:
        """Return the stored keys under the prefix."""
        return sorted(key for key, _ in self._walk(prefix))


class S3BlobStore:
    """Blobs as S3 objects in one bucket, under an optional key prefix."""

    def __init__(self, bucket: str, client: Any = None, *, prefix: str = "") -> None:
        self.bucket = bucket
        self._client = client
        self.prefix = prefix

    @property
    def client(self) -> Any:
        """The S3 client, made on first use: most requests never touch a blob, and a client
        costs a Lambda ~70 ms of its cold start."""
        if self._client is None:
            import boto3  # noqa: PLC0415 — boto3 is only needed in AWS

            self._client = boto3.client("s3")
        return self._client

    def put(self, key: str, data: bytes) -> None:
        """Upload one object."""
        _check_key(key)
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)

    def get(self, key: str) -> bytes:
        """Download one object."""
        _check_key(key)
        try:
            response = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)
        except Exception as exc:
            code = getattr(exc, "response", {}).get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                raise NotFoundError(f"blob not found: {key}") from None
            raise StoreError(f"blob read failed: {key}", error=str(exc)) from exc
        body: bytes = response["Body"].read()
        return body

    def list_keys(self, prefix: str) -> list[str]:
        """List the keys under the prefix (all pages)."""
        keys: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            keys.extend(obj["Key"][len(self.prefix) :] for obj in page.get("Contents", []))
        return sorted(keys)

    def delete_prefix(self, prefix: str) -> int:
        """Delete the objects under the prefix, 1,000 per call."""
        keys = self.list_keys(prefix)
        for start in range(0, len(keys), S3_DELETE_BATCH):
            chunk = keys[start : start + S3_DELETE_BATCH]
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self.prefix + k} for k in chunk], "Quiet": True},
            )
            if response.get("Errors"):
                raise StoreError("blob delete failed", errors=response["Errors"][:5])
        logger.debug("prefix=%s count=%d | deleted blobs", prefix, len(keys))
        return len(keys)
