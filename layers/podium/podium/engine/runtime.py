"""What every step handler needs — the store, the agents, the orchestrator — built once per
process: from the environment in Lambda, or handed over by the local runner."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from podium import settings

if TYPE_CHECKING:
    from podium.engine.agents import AgentRegistry
    from podium.engine.lambda_tools import LambdaTools
    from podium.models.client import RetryPolicy
    from podium.store.base import Store
    from podium.store.context import MessageCache


class Orchestrator(Protocol):
    """Starts, stops and resumes executions: Step Functions in AWS, the local executor here."""

    def start(self, name: str, payload: dict[str, Any]) -> str:
        """Start an execution named `name` (idempotent); returns its reference."""

    def reference(self, name: str) -> str:
        """The reference `start(name, ...)` returns, known before it starts (a run is
        written with it, so that starting its execution needs no second write)."""

    def stop(self, name: str, *, cause: str) -> None:
        """Stop an execution (cancel)."""

    def send_task_success(self, token: str, output: Any) -> None: ...

    def send_task_failure(self, token: str, error: str, cause: str) -> None: ...


def _message_cache() -> MessageCache:
    from podium.store.context import MessageCache  # noqa: PLC0415

    return MessageCache()


@dataclass
class Runtime:
    store: Store
    agents: AgentRegistry
    orchestrator: Orchestrator | None = None
    clock: Callable[[], float] = time.time
    event_batch_ms: float = 0.0
    """0 writes each event at once (local); in AWS events are written in batches."""
    model_retry: RetryPolicy | None = None
    """Provider retry policy (tests shorten its delays); None: the models layer's default."""
    cancelled: set[str] = field(default_factory=set)
    """Runs asked to stop in this process: their streaming step stops at the next event."""
    cancel_poll_s: float = 1.0
    """How often a streaming step re-reads its run to notice a cancel from another process."""
    message_cache: MessageCache = field(default_factory=_message_cache)
    """Recent messages kept between turns: a turn reads only what is new."""
    lambda_tools: LambdaTools | None = None
    """Invokes `lambda` tools (the tool runner in AWS); None: there is no Lambda to call."""


_runtime: Runtime | None = None
_lock = threading.Lock()


def set_runtime(runtime: Runtime | None) -> None:
    """Install the runtime the handlers use (the local runner and tests do this)."""
    global _runtime  # noqa: PLW0603 - one runtime per process, like a Lambda's globals
    with _lock:
        _runtime = runtime


def get_runtime() -> Runtime:
    """The installed runtime, or one built from the environment (a Lambda's cold start)."""
    global _runtime  # noqa: PLW0603
    with _lock:
        if _runtime is None:
            _runtime = _from_environment()
        return _runtime


def _from_environment() -> Runtime:
    import os  # noqa: PLC0415

    from podium.engine.agents import AgentRegistry  # noqa: PLC0415
    from podium.models.keys import install_log_redaction  # noqa: PLC0415
    from podium.observe import logs  # noqa: PLC0415
    from podium.store.factory import build_store  # noqa: PLC0415

    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME") or os.environ.get(logs.ENV_LOG_FORMAT) == "json":
        logs.configure()
    install_log_redaction()

    store = build_store()
    agents = AgentRegistry(store, settings.agents_dir())
    orchestrator = None
    machine = settings.resolve(None, settings.ENV_STATE_MACHINE_ARN, "")
    if machine:
        from podium.engine.stepfunctions import StepFunctionsOrchestrator  # noqa: PLC0415

        orchestrator = StepFunctionsOrchestrator(machine)
    batch = float(settings.resolve(None, settings.ENV_EVENT_BATCH_MS, "100"))
    lambda_tools = None
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        from podium.engine.lambda_tools import LambdaTools  # noqa: PLC0415

        lambda_tools = LambdaTools()
    return Runtime(
        store=store,
        agents=agents,
        orchestrator=orchestrator,
        event_batch_ms=batch,
        lambda_tools=lambda_tools,
    )
