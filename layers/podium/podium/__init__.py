"""Podium: serverless orchestration for AI agents on AWS, from a declarative definition.

`import podium` is kept cheap (no litellm, boto3 or moto): the public names below are
resolved lazily on first access.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "PodiumError": "podium.errors",
    "AgentConfigError": "podium.errors",
    "ModelError": "podium.errors",
    "ToolError": "podium.errors",
    "ConflictError": "podium.errors",
    "NotFoundError": "podium.errors",
    "Agent": "podium.protocol.agent",
    "load_agent": "podium.protocol.loader",
    "tool": "podium.engine.tool_contract",
}

__all__ = [
    "Agent",
    "AgentConfigError",
    "ConflictError",
    "ModelError",
    "NotFoundError",
    "PodiumError",
    "ToolError",
    "__version__",
    "load_agent",
    "tool",
]

if TYPE_CHECKING:
    from podium.engine.tool_contract import tool
    from podium.errors import (
        AgentConfigError,
        ConflictError,
        ModelError,
        NotFoundError,
        PodiumError,
        ToolError,
    )
    from podium.protocol.agent import Agent
    from podium.protocol.loader import load_agent


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'podium' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
