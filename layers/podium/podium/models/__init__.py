"""Podium's model layer: one small interface over litellm.

    decision = choose_model(agent, step=1, after_tool_results=False, context_tokens=900)
    budget = check_step_budget(agent, decision.alias_or_model, messages,
                               run_cost_usd=0.0, session_cost_usd=0.0)
    result = await call_with_fallbacks(agent, budget.alias, messages, on_event=emit)

Names resolve lazily: `import podium.models` imports neither litellm nor httpx; the first
model call does (and only the litellm path imports litellm).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY: dict[str, str] = {
    "Attempt": "podium.models.types",
    "Finish": "podium.models.types",
    "ModelRequest": "podium.models.types",
    "ModelResult": "podium.models.types",
    "Notice": "podium.models.types",
    "ReasoningDelta": "podium.models.types",
    "StreamEvent": "podium.models.types",
    "TextDelta": "podium.models.types",
    "ToolCallDelta": "podium.models.types",
    "ToolCallDone": "podium.models.types",
    "ToolCallResult": "podium.models.types",
    "ToolCallStart": "podium.models.types",
    "Usage": "podium.models.types",
    "UsageReport": "podium.models.types",
    "RetryPolicy": "podium.models.client",
    "call_model": "podium.models.client",
    "build_request": "podium.models.fallbacks",
    "call_with_fallbacks": "podium.models.fallbacks",
    "tool_specs": "podium.models.fallbacks",
    "RoutingDecision": "podium.models.routing",
    "choose_model": "podium.models.routing",
    "BudgetDecision": "podium.models.budget",
    "check_budget": "podium.models.budget",
    "check_step_budget": "podium.models.budget",
    "estimate_cost": "podium.models.budget",
    "compute_cost": "podium.models.cost",
    "price_for": "podium.models.cost",
    "count_tokens": "podium.models.tokens",
    "estimate_tokens": "podium.models.tokens",
    "redact": "podium.models.keys",
    "resolve_api_key": "podium.models.keys",
    "install_log_redaction": "podium.models.keys",
}

__all__ = [
    "Attempt",
    "BudgetDecision",
    "Finish",
    "ModelRequest",
    "ModelResult",
    "Notice",
    "ReasoningDelta",
    "RetryPolicy",
    "RoutingDecision",
    "StreamEvent",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallDone",
    "ToolCallResult",
    "ToolCallStart",
    "Usage",
    "UsageReport",
    "build_request",
    "call_model",
    "call_with_fallbacks",
    "check_budget",
    "check_step_budget",
    "choose_model",
    "compute_cost",
    "count_tokens",
    "estimate_cost",
    "estimate_tokens",
    "install_log_redaction",
    "price_for",
    "redact",
    "resolve_api_key",
    "tool_specs",
]

if TYPE_CHECKING:
    from podium.models.budget import (
        BudgetDecision,
        check_budget,
        check_step_budget,
        estimate_cost,
    )
    from podium.models.client import RetryPolicy, call_model
    from podium.models.cost import compute_cost, price_for
    from podium.models.fallbacks import build_request, call_with_fallbacks, tool_specs
    from podium.models.keys import install_log_redaction, redact, resolve_api_key
    from podium.models.routing import RoutingDecision, choose_model
    from podium.models.tokens import count_tokens, estimate_tokens
    from podium.models.types import (
        Attempt,
        Finish,
        ModelRequest,
        ModelResult,
        Notice,
        ReasoningDelta,
        StreamEvent,
        TextDelta,
        ToolCallDelta,
        ToolCallDone,
        ToolCallResult,
        ToolCallStart,
        Usage,
        UsageReport,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'podium.models' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
