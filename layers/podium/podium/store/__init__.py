"""podium.store: the Store interface and its SQLite and DynamoDB implementations.

Importing this package is cheap: boto3 is imported only when a DynamoDB or S3 client has to
be created, litellm only when a context window counts tokens with it.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "Store": "podium.store.base",
    "SqliteStore": "podium.store.sqlite",
    "DynamoStore": "podium.store.dynamodb",
    "create_table": "podium.store.dynamodb",
    "build_store": "podium.store.factory",
    "BlobStore": "podium.store.blobs",
    "DiskBlobStore": "podium.store.blobs",
    "S3BlobStore": "podium.store.blobs",
    "build_context": "podium.store.context",
    "ContextWindow": "podium.store.context",
    "new_run_id": "podium.store.ids",
    "event_id": "podium.store.ids",
}

__all__ = [
    "BlobStore",
    "ContextWindow",
    "DiskBlobStore",
    "DynamoStore",
    "S3BlobStore",
    "SqliteStore",
    "Store",
    "build_context",
    "build_store",
    "create_table",
    "event_id",
    "new_run_id",
]

if TYPE_CHECKING:
    from podium.store.base import Store
    from podium.store.blobs import BlobStore, DiskBlobStore, S3BlobStore
    from podium.store.context import ContextWindow, build_context
    from podium.store.dynamodb import DynamoStore, create_table
    from podium.store.factory import build_store
    from podium.store.ids import event_id, new_run_id
    from podium.store.sqlite import SqliteStore


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'podium.store' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
