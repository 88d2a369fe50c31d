from __future__ import annotations

import pytest

from podium.errors import InputError
from podium.protocol.agent import Agent
from podium.protocol.variables import render, resolve_variables

AGENT = Agent.model_validate(
    {
        "name": "v",
        "model": "podium/demo",
        "system": "Hi {{company}}, tier {{tier}}, vip {{vip}}",
        "variables": {
            "company": {"type": "string", "required": True},
            "tier": {"type": "string", "default": "standard"},
            "vip": {"type": "boolean", "default": False},
            "limit": {"type": "number"},
        },
    }
)


def test_defaults_fill_and_render():
    values = resolve_variables(AGENT, {"company": "Acme", "limit": 3})
    assert values == {"company": "Acme", "tier": "standard", "vip": False, "limit": 3.0}
    assert render(AGENT.system, values) == "Hi Acme, tier standard, vip false"


def test_every_problem_is_named():
    with pytest.raises(InputError) as caught:
        resolve_variables(AGENT, {"tier": 2, "colour": "red"})
    problems = caught.value.details["problems"]
    assert "unknown variable `colour` (declared: company, limit, tier, vip)" in problems
    assert "variable `tier` must be a string, got 2" in problems
    assert "variable `company` is required" in problems


def test_boolean_is_not_a_number():
    with pytest.raises(InputError, match="must be a number"):
        resolve_variables(AGENT, {"company": "A", "limit": True})
