"""A stream subscribes to the event bus before it reads the log, so nothing written between
the two is missed — and an event written *during* the read reaches it twice: in the log page
and on the bus. The stream must send it once. The race is set up deterministically: the
store writes the event in the middle of the stream's first read."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

from podium.api.auth import TokenSigner
from podium.api.context import ApiContext, ApiSettings
from podium.api.sse import follow
from podium.engine import ui_stream as ui
from podium.engine.eventlog import EventWriter
from podium.engine.local import LocalOrchestrator
from podium.engine.runtime import Runtime
from podium.store.ids import new_run_id
from podium.store.sqlite import SqliteStore

TENANT = "acme"


class WritesDuringTheFirstRead(SqliteStore):
    """A store whose first `list_events` lets a writer append (and hand over on the bus)
    an event before the read itself runs: the read returns it too."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.during_first_read: Any = None

    def list_events(self, *args: Any, **kwargs: Any) -> Any:
        if self.during_first_read is not None:
            write, self.during_first_read = self.during_first_read, None
            write()
        return super().list_events(*args, **kwargs)


def test_an_event_both_read_and_handed_over_is_sent_once(tmp_path):
    store = WritesDuringTheFirstRead(tmp_path / "podium.db")
    runtime = Runtime(store=store, agents=None, orchestrator=LocalOrchestrator(None))  # type: ignore[arg-type]
    ctx = ApiContext(runtime, ApiSettings(heartbeat_s=5), TokenSigner(secrets.token_bytes(32)))
    assert ctx.local  # streams follow the in-process bus
    session = store.create_session(TENANT, agent="a", agent_hash="h").session_id
    run_id = new_run_id()
    writer = EventWriter(store, TENANT, session, run_id, 1, 0)
    writer.emit(ui.start(run_id))
    store.during_first_read = lambda: writer.emit(ui.text_start("t"))

    async def read_stream() -> list[str]:
        sent: list[str] = []
        async for chunk in follow(ctx, TENANT, session, run_id=run_id):
            sent.append(chunk)
            if len(sent) == 2:  # both replayed: the stream now waits on the bus
                await asyncio.to_thread(writer.emit, ui.finish("stop"))
        return sent

    sent = asyncio.run(asyncio.wait_for(read_stream(), 10))
    ids = [line[4:] for chunk in sent for line in chunk.splitlines() if line.startswith("id: ")]
    stored = [e.event_id for e in store.list_events(TENANT, session, run_id=run_id)]
    assert len(stored) == 3
    assert ids == stored  # each once, in order — the raced one too
    assert sent[-1] == "data: [DONE]\n\n"
