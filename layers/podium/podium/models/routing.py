"""Which model a step uses: the agent's `routing` rules, first match wins, else `model`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from podium.protocol.agent import Agent, ModelSpec, RoutingRule

__all__ = ["RoutingDecision", "choose_model"]


class RoutingDecision(BaseModel):
    """The model chosen for a step and why (recorded on the step's span)."""

    model_config = ConfigDict(frozen=True)

    alias_or_model: str
    """The alias from `models` (or the bare `provider/model` string) chosen."""
    spec: ModelSpec
    """What the alias resolves to: the model string, settings, pricing, api_base."""
    reason: str
    """`routing[<i>]: <condition>` for a matching rule, `default model` otherwise."""


def _matches(rule: RoutingRule, step: int, after_tool_results: bool, context_tokens: int) -> bool:
    if rule.first_step:
        return step == 1
    if rule.after_tool_results:
        return after_tool_results
    if rule.context_over_tokens is not None:
        return context_tokens > rule.context_over_tokens
    if rule.step is not None:
        return step == rule.step
    return False


def choose_model(
    agent: Agent, step: int, after_tool_results: bool, context_tokens: int
) -> RoutingDecision:
    """The model for model step `step` (1 is the first of a run).

    `after_tool_results`: the step follows tool results. `context_tokens`: the size of the
    step's context window, for `context_over_tokens` rules.
    """
    for index, rule in enumerate(agent.routing):
        if _matches(rule, step, after_tool_results, context_tokens):
            return RoutingDecision(
                alias_or_model=rule.use,
                spec=agent.resolve_model(rule.use),
                reason=f"routing[{index}]: {rule.condition}",
            )
    return RoutingDecision(
        alias_or_model=agent.model, spec=agent.resolve_model(agent.model), reason="default model"
    )
