"""The fake OpenAI server, noting when it writes each streamed text chunk (for figure 3).

Runs `podium.testing.fake_openai` unchanged, except that each streamed response's frame
writes are time-stamped (`time.monotonic()`, the system-wide CLOCK_MONOTONIC, so another
process on this machine can compare) and appended, one JSON line per response, to the file
named by `--stamps`: `{"times": [...]}` for the frames that carry text.

    python bench/stamped_fake.py --stamps FILE [fake_openai options]
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path


def main() -> int:
    args = sys.argv[1:]
    where = args.index("--stamps")
    stamps = Path(args[where + 1])
    del args[where : where + 2]
    from podium.testing import _http, fake_openai

    async def send_frames(writer: asyncio.StreamWriter, frames: list[tuple[float, bytes]]) -> None:
        times: list[float] = []
        for delay, data in frames:
            if delay > 0:
                await writer.drain()
                await asyncio.sleep(delay)
            writer.write(_http.chunk(data))
            if b'"content":"' in data and b'"content":""' not in data:
                times.append(time.monotonic())
        with stamps.open("a") as out:
            out.write(json.dumps({"times": times}) + "\n")

    _http.send_frames = send_frames  # type: ignore[assignment]
    return fake_openai.main(args)


if __name__ == "__main__":
    sys.exit(main())
