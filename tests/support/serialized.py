"""A boto3 client wrapper for tests against moto."""

from __future__ import annotations

import threading
from typing import Any


class SerializedClient:
    """A boto3 client whose calls run one at a time.

    moto's DynamoDB does not make a conditional write atomic across threads: it evaluates
    the condition and then writes, and another thread can slip in between (measured: 8
    threads × 50 version-checked increments ended at 388–394, not 400). Real DynamoDB
    evaluates condition and write atomically per item. Serialising calls restores that
    guarantee, so the concurrency tests prove the store's *logic* (the conditions it sends)
    rather than moto's internals. Reads are serialised too so none sees a half-applied write.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._client, name)
        if not callable(attr) or name.startswith(("get_paginator", "get_waiter", "exceptions")):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return attr(*args, **kwargs)

        return call
