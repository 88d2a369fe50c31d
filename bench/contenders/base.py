"""What a contender is: a way to open a session and carry one user turn to its answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass
class TurnResult:
    text: str
    done_at: float | None = None
    """`time.perf_counter()` when the answer was complete, if earlier than the return (Podium
    streams `finish` before its executor's last bookkeeping; that bookkeeping still counts as
    CPU of the turn)."""
    deltas: int = 0
    """Text deltas received (streaming)."""


class Contender(Protocol):
    name: str

    async def new_session(self) -> Any:
        """A fresh conversation (setup: not timed)."""

    async def turn(self, session: Any, stream: bool) -> TurnResult:
        """Send the question and wait for the final answer (consuming the stream if asked)."""

    async def settle(self) -> None:
        """Wait for work the turn left running (Podium's executor tail); default: none."""

    async def close(self) -> None: ...


class BaseContender:
    name = "contender"

    async def settle(self) -> None:
        return None

    async def close(self) -> None:
        return None
