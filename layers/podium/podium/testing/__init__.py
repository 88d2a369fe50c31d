"""Test helpers for Podium and for users' tests: a scripted fake OpenAI-compatible server and
a guard that stops tests from reaching the network.

Names resolve lazily, so `import podium.testing` costs nothing until one is used; `import
podium` never imports this package.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "FakeOpenAI": "podium.testing.fake_openai",
    "RecordedRequest": "podium.testing.fake_openai",
    "Pause": "podium.testing._http",
    "Fault": "podium.testing.script",
    "Reply": "podium.testing.script",
    "Responder": "podium.testing.script",
    "Step": "podium.testing.script",
    "ToolCall": "podium.testing.script",
    "Usage": "podium.testing.script",
    "echo_responder": "podium.testing.script",
    "weather_bench": "podium.testing.workloads",
    "WORKLOADS": "podium.testing.workloads",
    "NetworkBlockedError": "podium.testing.network_guard",
    "install_network_guard": "podium.testing.network_guard",
    "network_guard": "podium.testing.network_guard",
    "uninstall_network_guard": "podium.testing.network_guard",
}

__all__ = [
    "WORKLOADS",
    "FakeOpenAI",
    "Fault",
    "NetworkBlockedError",
    "Pause",
    "RecordedRequest",
    "Reply",
    "Responder",
    "Step",
    "ToolCall",
    "Usage",
    "echo_responder",
    "install_network_guard",
    "network_guard",
    "uninstall_network_guard",
    "weather_bench",
]

if TYPE_CHECKING:
    from podium.testing._http import Pause
    from podium.testing.fake_openai import FakeOpenAI, RecordedRequest
    from podium.testing.network_guard import (
        NetworkBlockedError,
        install_network_guard,
        network_guard,
        uninstall_network_guard,
    )
    from podium.testing.script import (
        Fault,
        Reply,
        Responder,
        Step,
        ToolCall,
        Usage,
        echo_responder,
    )
    from podium.testing.workloads import WORKLOADS, weather_bench


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'podium.testing' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
