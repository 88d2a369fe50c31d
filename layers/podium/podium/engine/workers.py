"""Reusable worker threads for the local executor.

Every execution, Map iteration and timed task needs a thread of its own (any of them may
block: on a model, a tool, a person). Starting a fresh thread each time costs a thread and,
through the SQLite store, a new database connection; these workers are kept for a while once
idle and reused, yet a new one is started whenever all are busy, so a job never waits for
another to finish.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

IDLE_SECONDS = 60.0


class Workers:
    def __init__(self, *, idle_s: float = IDLE_SECONDS, name: str = "podium-worker") -> None:
        self.idle_s = idle_s
        self.name = name
        self._idle: list[queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None]] = []
        self._lock = threading.Lock()
        self._count = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        job = (lambda: fn(*args), future)
        with self._lock:
            inbox = self._idle.pop() if self._idle else None
            if inbox is None:
                self._count += 1
                number = self._count
        if inbox is not None:
            inbox.put(job)
            return future
        inbox = queue.SimpleQueue()
        inbox.put(job)
        thread = threading.Thread(
            target=self._work, args=(inbox,), daemon=True, name=f"{self.name}-{number}"
        )
        thread.start()
        return future

    def _work(self, inbox: queue.SimpleQueue[tuple[Callable[[], Any], Future[Any]] | None]) -> None:
        while True:
            try:
                job = inbox.get(timeout=self.idle_s)
            except queue.Empty:
                with self._lock:
                    if inbox in self._idle:
                        self._idle.remove(inbox)
                        return
                continue  # handed a job just as the wait ended: take it
            if job is None:
                return
            run, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(run())
                except BaseException as exc:  # the job's own failure, for its caller
                    future.set_exception(exc)
            with self._lock:
                self._idle.append(inbox)
