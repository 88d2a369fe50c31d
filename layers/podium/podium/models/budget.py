"""Budgets, checked before each model call: allow, downgrade to a cheaper alias, or stop.

The next call's cost is estimated before it is made, pessimistically: the prompt's tokens
(litellm's token counter) × the input price, plus the most it may write — the model's
`max_output_tokens` setting, else the price map's `max_output_tokens` capped at 4,096 — ×
the output price. When the run's or the session's `max_cost_usd` would be exceeded, the
agent's `on_budget` says what happens: `stop` refuses the call, `downgrade` switches to
`downgrade_to` if that model's estimate fits (and stops otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from podium.models.cost import model_info, price_for
from podium.models.tokens import count_tokens
from podium.models.types import Notice
from podium.protocol.agent import Agent, ModelSpec

__all__ = [
    "DEFAULT_ESTIMATED_OUTPUT_TOKENS",
    "BudgetDecision",
    "check_budget",
    "check_step_budget",
    "estimate_cost",
]

DEFAULT_ESTIMATED_OUTPUT_TOKENS = 4096
TokenCounter = Callable[[str, Sequence[dict[str, Any]], Sequence[dict[str, Any]]], int]


class BudgetDecision(BaseModel):
    """What the budget allows for the next call."""

    model_config = ConfigDict(frozen=True)

    action: Literal["allow", "downgrade", "stop"]
    alias: str
    """The alias (or model string) to call: the chosen one, or `downgrade_to`."""
    reason: str
    estimated_cost_usd: float = 0.0

    def notice(self) -> Notice | None:
        """The event telling the user about a downgrade or a refusal (None when allowed)."""
        if self.action == "allow":
            return None
        kind: Literal["budget-downgrade", "budget-stop"] = (
            "budget-downgrade" if self.action == "downgrade" else "budget-stop"
        )
        return Notice(
            kind=kind,
            message=self.reason,
            detail={"alias": self.alias, "estimated_cost_usd": self.estimated_cost_usd},
        )


def _output_tokens(spec: ModelSpec) -> int:
    if spec.settings.max_output_tokens is not None:
        return spec.settings.max_output_tokens
    known = (model_info(spec.model) or {}).get("max_output_tokens")
    if isinstance(known, int) and known > 0:
        return min(known, DEFAULT_ESTIMATED_OUTPUT_TOKENS)
    return DEFAULT_ESTIMATED_OUTPUT_TOKENS


def estimate_cost(
    spec: ModelSpec,
    messages: Sequence[dict[str, Any]],
    tools: Sequence[dict[str, Any]] = (),
    *,
    count: TokenCounter | None = None,
) -> float:
    """The most the next call with `spec` should cost, in USD (0 for unpriced models)."""
    price = price_for(spec.model, spec.pricing)
    if price is None or (price.input == 0 and price.output == 0):
        return 0.0
    prompt = (count or count_tokens)(spec.model, messages, tools)
    return prompt * price.input + _output_tokens(spec) * price.output


def _exceeded(agent: Agent, run_cost: float, session_cost: float, estimate: float) -> str | None:
    limits = agent.limits.max_cost_usd
    if limits.run is not None and run_cost + estimate > limits.run:
        return (
            f"the run's budget of ${limits.run:.4f} would be exceeded "
            f"(spent ${run_cost:.4f}, next call up to ${estimate:.4f})"
        )
    if limits.session is not None and session_cost + estimate > limits.session:
        return (
            f"the session's budget of ${limits.session:.4f} would be exceeded "
            f"(spent ${session_cost:.4f}, next call up to ${estimate:.4f})"
        )
    return None


def check_budget(
    agent: Agent,
    run_cost_usd: float,
    session_cost_usd: float,
    estimated_next_cost_usd: float,
    *,
    chosen: str | None = None,
    estimate: Callable[[str], float] | None = None,
) -> BudgetDecision:
    """Decide whether the next call (estimated at `estimated_next_cost_usd`, with the alias
    `chosen`, the default model when None) fits the run's and the session's budgets.

    `estimate(alias)` prices the downgrade target; without it the target's call is assumed
    to fit if anything of the budget is left.
    """
    alias = chosen or agent.model
    problem = _exceeded(agent, run_cost_usd, session_cost_usd, estimated_next_cost_usd)
    if problem is None:
        return BudgetDecision(
            action="allow",
            alias=alias,
            reason="within budget",
            estimated_cost_usd=estimated_next_cost_usd,
        )
    limits = agent.limits
    target = limits.downgrade_to
    if limits.on_budget == "downgrade" and target is not None and target != alias:
        target_cost = estimate(target) if estimate is not None else 0.0
        if _exceeded(agent, run_cost_usd, session_cost_usd, target_cost) is None:
            return BudgetDecision(
                action="downgrade",
                alias=target,
                reason=f"{problem}: downgraded from {alias} to {target}",
                estimated_cost_usd=target_cost,
            )
        problem += f", and {target} would exceed it too"
    return BudgetDecision(
        action="stop",
        alias=alias,
        reason=f"{problem}: the call was refused",
        estimated_cost_usd=estimated_next_cost_usd,
    )


def check_step_budget(
    agent: Agent,
    chosen: str,
    messages: Sequence[dict[str, Any]],
    tools: Sequence[dict[str, Any]] = (),
    *,
    run_cost_usd: float,
    session_cost_usd: float,
    count: TokenCounter | None = None,
) -> BudgetDecision:
    """`check_budget` with the estimates computed from the step's messages and tools."""

    def estimate(alias: str) -> float:
        return estimate_cost(agent.resolve_model(alias), messages, tools, count=count)

    return check_budget(
        agent,
        run_cost_usd,
        session_cost_usd,
        estimate(chosen),
        chosen=chosen,
        estimate=estimate,
    )
