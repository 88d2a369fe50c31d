"""Sync and async clients over httpx, sharing request building and SSE parsing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

from podium.client.types import Event, RunInfo, SessionInfo

RECONNECT_ATTEMPTS = 5
STREAM_ERRORS = (httpx.RemoteProtocolError, httpx.ReadError, httpx.ReadTimeout,
                 httpx.ConnectError)  # fmt: skip


class PodiumAPIError(Exception):
    """The API answered with an error: its status, code and message."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def _check(response: httpx.Response) -> Any:
    if response.status_code >= 400:
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        raise PodiumAPIError(response.status_code, str(error.get("code", "error")),
                             str(error.get("message", response.text[:500])),
                             error.get("details"))  # fmt: skip
    if response.status_code == 204:
        return None
    return response.json()


class _SSEParser:
    """Feeds lines, yields (id, data) for each complete event; `done` after `[DONE]`."""

    def __init__(self) -> None:
        self.event_id: str | None = None
        self.data: list[str] = []
        self.done = False

    def feed(self, line: str) -> tuple[str | None, str] | None:
        if line == "":
            if not self.data:
                return None
            payload, self.data = "\n".join(self.data), []
            if payload == "[DONE]":
                self.done = True
                return None
            return self.event_id, payload
        if line.startswith(":"):
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "id":
            self.event_id = value
        elif field == "data":
            self.data.append(value)
        return None


def _events_path(session_id: str, run_id: str | None) -> str:
    return (f"/sessions/{session_id}/runs/{run_id}/events" if run_id
            else f"/sessions/{session_id}/events")  # fmt: skip


class Podium:
    """Synchronous client."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:  # fmt: skip
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.Client(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Podium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return _check(self.http.request(method, path, **kwargs))

    def agents(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._call("GET", "/agents")["items"]
        return items

    def create_session(self, agent: str, *, variables: dict[str, Any] | None = None,
                       metadata: dict[str, Any] | None = None,
                       session_id: str | None = None) -> SessionInfo:  # fmt: skip
        body: dict[str, Any] = {
            "agent": agent,
            "variables": variables or {},
            "metadata": metadata or {},
        }
        if session_id:
            body["session_id"] = session_id
        return SessionInfo.model_validate(self._call("POST", "/sessions", json=body))

    def get_session(self, session_id: str) -> SessionInfo:
        return SessionInfo.model_validate(self._call("GET", f"/sessions/{session_id}"))

    def delete_session(self, session_id: str) -> None:
        self._call("DELETE", f"/sessions/{session_id}")

    def start_run(self, session_id: str, text: str | list[dict[str, Any]]) -> RunInfo:
        answer = self._call("POST", f"/sessions/{session_id}/runs", json={"input": text})
        return RunInfo.model_validate({**answer, "session_id": session_id})

    def get_run(self, session_id: str, run_id: str) -> RunInfo:
        return RunInfo.model_validate(self._call("GET", f"/sessions/{session_id}/runs/{run_id}"))

    def cancel(self, session_id: str, run_id: str) -> RunInfo:
        path = f"/sessions/{session_id}/runs/{run_id}/cancel"
        return RunInfo.model_validate(self._call("POST", path))

    def decide(self, session_id: str, run_id: str, call_id: str, *, approved: bool,
               reason: str | None = None) -> None:  # fmt: skip
        self._call(
            "POST",
            f"/sessions/{session_id}/runs/{run_id}/approvals/{call_id}",
            json={"approved": approved, "reason": reason},
        )

    def submit_tool_result(self, session_id: str, run_id: str, call_id: str, *,
                           output: Any = None, error: str | None = None) -> None:  # fmt: skip
        self._call(
            "POST",
            f"/sessions/{session_id}/runs/{run_id}/tool-results/{call_id}",
            json={"output": output, "error": error},
        )

    def trace(self, session_id: str, run_id: str) -> dict[str, Any]:
        trace: dict[str, Any] = self._call("GET", f"/sessions/{session_id}/runs/{run_id}/trace")
        return trace

    def events(self, session_id: str, run_id: str | None = None, *,
               last_event_id: str | None = None) -> Iterator[Event]:  # fmt: skip
        """A run's events until its `finish` (or the session's, until you stop), reconnecting
        after a dropped connection from the last event id seen."""
        attempts = 0
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            parser = _SSEParser()
            try:
                with self.http.stream("GET", _events_path(session_id, run_id),
                                      headers=headers) as response:  # fmt: skip
                    if response.status_code >= 400:
                        response.read()
                        _check(response)
                    for line in response.iter_lines():
                        parsed = parser.feed(line)
                        if parsed is not None:
                            attempts = 0
                            event = Event.parse(*parsed)
                            last_event_id = event.id or last_event_id
                            yield event
                        if parser.done:
                            return
            except STREAM_ERRORS:
                attempts += 1
                if attempts > RECONNECT_ATTEMPTS:
                    raise
                time.sleep(min(0.2 * 2**attempts, 5))
                continue
            if run_id is not None and parser.done:
                return


class AsyncPodium:
    """Asynchronous client (same methods, awaited; `events` is an async iterator)."""

    def __init__(self, base_url: str, api_key: str | None = None, *, timeout: float = 60.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:  # fmt: skip
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.http = httpx.AsyncClient(
            base_url=base_url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> AsyncPodium:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        return _check(await self.http.request(method, path, **kwargs))

    async def create_session(self, agent: str, *, variables: dict[str, Any] | None = None,
                             metadata: dict[str, Any] | None = None) -> SessionInfo:  # fmt: skip
        body = {"agent": agent, "variables": variables or {}, "metadata": metadata or {}}
        return SessionInfo.model_validate(await self._call("POST", "/sessions", json=body))

    async def start_run(self, session_id: str, text: str | list[dict[str, Any]]) -> RunInfo:
        answer = await self._call("POST", f"/sessions/{session_id}/runs", json={"input": text})
        return RunInfo.model_validate({**answer, "session_id": session_id})

    async def get_run(self, session_id: str, run_id: str) -> RunInfo:
        path = f"/sessions/{session_id}/runs/{run_id}"
        return RunInfo.model_validate(await self._call("GET", path))

    async def decide(self, session_id: str, run_id: str, call_id: str, *, approved: bool,
                     reason: str | None = None) -> None:  # fmt: skip
        await self._call(
            "POST",
            f"/sessions/{session_id}/runs/{run_id}/approvals/{call_id}",
            json={"approved": approved, "reason": reason},
        )

    async def events(self, session_id: str, run_id: str | None = None, *,
                     last_event_id: str | None = None) -> AsyncIterator[Event]:  # fmt: skip
        import asyncio  # noqa: PLC0415

        attempts = 0
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            parser = _SSEParser()
            try:
                async with self.http.stream("GET", _events_path(session_id, run_id),
                                            headers=headers) as response:  # fmt: skip
                    if response.status_code >= 400:
                        await response.aread()
                        _check(response)
                    async for line in response.aiter_lines():
                        parsed = parser.feed(line)
                        if parsed is not None:
                            attempts = 0
                            event = Event.parse(*parsed)
                            last_event_id = event.id or last_event_id
                            yield event
                        if parser.done:
                            return
            except STREAM_ERRORS:
                attempts += 1
                if attempts > RECONNECT_ATTEMPTS:
                    raise
                await asyncio.sleep(min(0.2 * 2**attempts, 5))
                continue
            if run_id is not None and parser.done:
                return
