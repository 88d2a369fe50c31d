"""One event loop per process for model calls, on a background thread.

Step handlers are synchronous (Lambda-shaped); model calls are async. Running them all on one
long-lived loop keeps the model layer's pooled HTTP client — and its keep-alive connections —
across steps and runs, instead of a new loop (and new connections) per call.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_lock = threading.Lock()


def _ensure_loop() -> asyncio.AbstractEventLoop:
    global _loop  # noqa: PLW0603 - the process's one loop
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="podium-aio", daemon=True)
            thread.start()
            _loop = loop
        return _loop


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run `coro` on the background loop and wait for its result (or exception)."""
    return asyncio.run_coroutine_threadsafe(coro, _ensure_loop()).result()
