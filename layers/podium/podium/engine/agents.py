"""Agents as runs see them: the current definition for new sessions and runs, and the exact
version (by content hash) a run is pinned to — so editing or redeploying an agent never changes
a run in flight."""

from __future__ import annotations

import contextlib
import stat
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podium.errors import NotFoundError
from podium.protocol import AGENT_FILE

if TYPE_CHECKING:
    from podium.protocol.agent import Agent
    from podium.protocol.loader import LoadedAgent
    from podium.store.base import Store


@dataclass(frozen=True)
class PinnedAgent:
    """A definition by content hash, with the folder its python tools live in."""

    agent: Agent
    system_template: str
    content_hash: str
    folder: Path | None

    @property
    def name(self) -> str:
        return self.agent.name

    @classmethod
    def from_loaded(cls, loaded: LoadedAgent) -> PinnedAgent:
        return cls(loaded.agent, loaded.system_template, loaded.content_hash, loaded.folder)


class AgentRegistry:
    """Loads agents from a folder (reloading a file that changed) and versions from the store."""

    def __init__(self, store: Store, agents_dir: Path | str | None) -> None:
        self.store = store
        self.agents_dir = Path(agents_dir) if agents_dir is not None else None
        self._current: dict[str, tuple[float, PinnedAgent]] = {}
        self._pinned: dict[str, PinnedAgent] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        if self.agents_dir is None or not self.agents_dir.is_dir():
            return []
        return sorted(p.parent.name for p in self.agents_dir.glob(f"*/{AGENT_FILE}"))

    def current(self, name: str) -> PinnedAgent:
        """The agent's definition as its file says now; stored by hash for runs to pin."""
        file, mtime = self._file(name)
        with self._lock:
            cached = self._current.get(name)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        from podium.protocol.loader import load_agent  # noqa: PLC0415 - YAML only here

        loaded = load_agent(file)
        pinned = PinnedAgent.from_loaded(loaded)
        self.store.put_agent_version(name, loaded.definition())
        with self._lock:
            self._current[name] = (mtime, pinned)
            self._pinned[loaded.content_hash] = pinned
        return pinned

    def pinned(self, name: str, content_hash: str) -> PinnedAgent:
        """The exact definition a session or run recorded."""
        with self._lock:
            cached = self._pinned.get(content_hash)
        if cached is not None:
            return cached
        version = self.store.get_agent_version(name, content_hash)
        definition = version.definition
        from podium.protocol.agent import Agent  # noqa: PLC0415 - a read-only request never needs it

        agent = Agent.model_validate(definition["agent"])
        folder = None
        if self.agents_dir is not None and (self.agents_dir / name).is_dir():
            folder = (self.agents_dir / name).resolve()
        pinned = PinnedAgent(
            agent, str(definition.get("system_template", "")), content_hash, folder
        )
        with self._lock:
            self._pinned[content_hash] = pinned
        return pinned

    def _file(self, name: str) -> tuple[Path, float]:
        """The agent's file and its modification time (one `stat`: this runs every run)."""
        if self.agents_dir is None:
            raise NotFoundError(f"unknown agent {name!r}: no agents folder is configured")
        file = self.agents_dir / name / AGENT_FILE
        found = None
        if name.replace("-", "").replace("_", "").isalnum():
            with contextlib.suppress(OSError):
                found = file.stat()
        if found is None or not stat.S_ISREG(found.st_mode):
            known = ", ".join(self.names()) or "none"
            raise NotFoundError(f"unknown agent {name!r} (agents: {known})", agent=name)
        return file, found.st_mtime
