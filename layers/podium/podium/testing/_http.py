"""The HTTP/1.1 plumbing of the fake OpenAI server: just enough of the protocol, fast.

Requests: a request line, headers, a body by `Content-Length` or chunked. Responses: JSON
with `Content-Length`, or SSE with chunked transfer encoding so the connection stays
reusable after a stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import struct
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from podium.testing._wire import Frame


@dataclass(frozen=True, slots=True)
class Pause:
    """A wait the server made while answering (the first token's latency, a chunk's, a whole
    non-streamed reply's): what it was asked to wait, and what its own clock measured."""

    requested_s: float
    slept_s: float


def mask_secret(value: str) -> str:
    """`Bearer sk-abcdef123456` → `Bearer sk-…3456`; short secrets become `…`."""
    scheme, _, secret = value.rpartition(" ")
    masked = f"{secret[:3]}…{secret[-4:]}" if len(secret) >= 12 else "…"
    return f"{scheme} {masked}" if scheme else masked


def parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return f"HTTP/1.1 {status} {phrase}\r\n".encode()


_STATUS_LINES = {status: status_line(status) for status in (200, 400, 404, 429, 500, 503)}


def response(status: int, extra_headers: bytes, body: bytes) -> bytes:
    line = _STATUS_LINES.get(status) or status_line(status)
    return b"".join(
        (
            line,
            b"content-type: application/json\r\ncontent-length: ",
            str(len(body)).encode(),
            b"\r\nx-request-id: req_",
            os.urandom(12).hex().encode(),
            b"\r\n",
            extra_headers,
            b"\r\n",
            body,
        )
    )


def stream_head(extra_headers: bytes) -> bytes:
    return (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
        b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\nx-request-id: req_"
        + os.urandom(12).hex().encode()
        + b"\r\n"
        + extra_headers
        + b"\r\n"
    )


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


async def pause(seconds: float, pauses: list[Pause] | None) -> None:
    """Sleep `seconds`, recording what was asked and what the server's clock measured."""
    started = time.monotonic()
    await asyncio.sleep(seconds)
    if pauses is not None:
        pauses.append(Pause(seconds, time.monotonic() - started))


async def send_frames(
    writer: asyncio.StreamWriter, frames: list[Frame], pauses: list[Pause] | None = None
) -> None:
    pending: list[bytes] = []
    for delay, data in frames:
        if delay > 0:
            if pending:
                writer.write(b"".join(pending))
                pending.clear()
                await writer.drain()
            await pause(delay, pauses)
        pending.append(chunk(data))
    if pending:
        writer.write(b"".join(pending))


def close(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    if reset:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
        if size == 0:
            # trailers end with an empty line
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
