"""Prices and cost of model calls, without importing litellm.

Prices come from, in order: the agent's `pricing` for the model; the demo models (free);
litellm's bundled price map (`model_prices_and_context_window_backup.json`, read as a plain
JSON file found next to the installed package, so pricing never pays litellm's ~3 s import).
Cost = uncached input × input price + cached input × cached price + output × output price;
reasoning tokens are part of the output and priced as output, as providers bill them.
"""

from __future__ import annotations

import importlib.util
import json
import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from podium.protocol.agent import ModelPricing

__all__ = ["Price", "compute_cost", "is_demo_model", "model_info", "price_for"]

logger = logging.getLogger(__name__)

PRICE_MAP_FILE = "model_prices_and_context_window_backup.json"
DEMO_PREFIX = "podium/demo"


def is_demo_model(model: str) -> bool:
    """True for `podium/demo` and every `podium/demo*` name (the built-in demo provider)."""
    return model.startswith(DEMO_PREFIX)


@dataclass(frozen=True, slots=True)
class Price:
    """USD per token."""

    input: float
    output: float
    cached_input: float
    source: str
    """`agent`, `demo` or `litellm`: where the price came from."""


@lru_cache(maxsize=1)
def _price_map() -> dict[str, dict[str, Any]]:
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.submodule_search_locations:
        logger.warning("file=%s | litellm is not installed: no price map", PRICE_MAP_FILE)
        return {}
    for location in spec.submodule_search_locations:
        path = Path(location) / PRICE_MAP_FILE
        if path.is_file():
            data = json.loads(path.read_text(encoding="utf-8"))
            return {key: value for key, value in data.items() if isinstance(value, dict)}
    return {}


def _candidates(model: str) -> list[str]:
    provider, _, name = model.partition("/")
    keys = [model]
    if name:
        keys.append(name)
        # litellm's keys for some providers drop a region or deployment prefix
        if "/" in name:
            keys.append(name.rsplit("/", 1)[1])
    return keys if provider else [model]


def model_info(model: str) -> dict[str, Any] | None:
    """litellm's price-map entry for a `provider/model` string, or None if unknown.

    An entry whose `litellm_provider` differs from the string's provider is still used for
    providers that resell the same model (e.g. a bare OpenAI name under `openai/`).
    """
    table = _price_map()
    provider = model.partition("/")[0]
    fallback: dict[str, Any] | None = None
    for key in _candidates(model):
        entry = table.get(key)
        if entry is None:
            continue
        if entry.get("litellm_provider") in (provider, None) or key == model:
            return entry
        fallback = fallback or entry
    return fallback


@lru_cache(maxsize=256)
def _map_price(model: str) -> Price | None:
    entry = model_info(model)
    if entry is None:
        return None
    input_price = float(entry.get("input_cost_per_token") or 0.0)
    output_price = float(entry.get("output_cost_per_token") or 0.0)
    cached = entry.get("cache_read_input_token_cost")
    cached_price = float(cached) if cached is not None else input_price
    return Price(input_price, output_price, cached_price, "litellm")


def price_for(model: str, pricing: ModelPricing | None = None) -> Price | None:
    """The price of a model: the agent's `pricing`, else free for the demo models, else
    litellm's price map; None when nothing knows it."""
    if pricing is not None:
        per = 1e-6
        cached = pricing.cached_input_per_million
        return Price(
            input=pricing.input_per_million * per,
            output=pricing.output_per_million * per,
            cached_input=(cached if cached is not None else pricing.input_per_million) * per,
            source="agent",
        )
    if is_demo_model(model):
        return Price(0.0, 0.0, 0.0, "demo")
    return _map_price(model)


def compute_cost(
    model: str,
    *,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    pricing: ModelPricing | None = None,
) -> tuple[float, bool]:
    """(cost in USD, whether a price was known). Unknown models cost 0 and say so."""
    price = price_for(model, pricing)
    if price is None:
        return 0.0, False
    cached = min(max(cached_tokens, 0), input_tokens)
    cost = (
        (input_tokens - cached) * price.input
        + cached * price.cached_input
        + output_tokens * price.output
    )
    return cost, True
