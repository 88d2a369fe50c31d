"""Run metrics as CloudWatch embedded metric format (EMF), through Powertools' `single_metric`.

On in Lambda (or with `PODIUM_METRICS=emf`): one EMF document per metric and dimension set is
printed when a run ends, and CloudWatch turns the log lines into metrics — runs, failures and
duration by agent; tokens and cost by agent and model; tool calls and failures by tool. The
namespace is `POWERTOOLS_METRICS_NAMESPACE` (default `Podium`).
"""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from podium.store.models import Run, Span

log = logging.getLogger(__name__)

ENV_METRICS = "PODIUM_METRICS"
DEFAULT_NAMESPACE = "Podium"


def enabled() -> bool:
    mode = os.environ.get(ENV_METRICS, "")
    if mode:
        return mode == "emf"
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME"))


def record_run(run: Run, spans: list[Span], *, agent: str) -> None:
    if not enabled():
        return
    try:
        _record(run, spans, agent)
    except Exception:  # metrics must never fail a run
        log.exception("run_id=%s | metrics failed", run.run_id)


def _record(run: Run, spans: list[Span], agent: str) -> None:
    from aws_lambda_powertools.metrics import MetricUnit, single_metric  # noqa: PLC0415

    namespace = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", DEFAULT_NAMESPACE)

    def emit(name: str, unit: MetricUnit, value: float, **dimensions: str) -> None:
        with single_metric(name=name, unit=unit, value=value, namespace=namespace) as metric:
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)

    emit("Runs", MetricUnit.Count, 1, agent=agent, status=run.status)
    if run.status == "failed":
        emit("RunFailures", MetricUnit.Count, 1, agent=agent)
    root = next((s for s in spans if s.kind == "run"), None)
    if root is not None and root.end is not None:
        emit("RunDuration", MetricUnit.Milliseconds, (root.end - root.start) * 1000, agent=agent)
    for span in spans:
        attributes = span.attributes or {}
        if span.kind == "model":
            model = str(attributes.get("model", span.name))
            for name, unit, key in (
                ("InputTokens", MetricUnit.Count, "input_tokens"),
                ("OutputTokens", MetricUnit.Count, "output_tokens"),
                ("CostUSD", MetricUnit.NoUnit, "cost_usd"),
                ("ModelLatency", MetricUnit.Milliseconds, "latency_ms"),
            ):
                value = attributes.get(key, None if key == "latency_ms" else 0)
                if value is not None:  # a call without a latency reports none
                    emit(name, unit, float(value), agent=agent, model=model)
        elif span.kind in {"tool", "approval"}:
            tool = str(attributes.get("tool", span.name))
            emit("ToolCalls", MetricUnit.Count, 1, agent=agent, tool=tool)
            if span.status == "error":
                emit("ToolFailures", MetricUnit.Count, 1, agent=agent, tool=tool)
