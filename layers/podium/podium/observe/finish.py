"""When a run ends: export its trace (OpenTelemetry) and its metrics (CloudWatch EMF)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from podium.observe import metrics, otel

if TYPE_CHECKING:
    from podium.store.base import Store
    from podium.store.models import Run


def run_finished(store: Store, tenant: str, session_id: str, run: Run, *, agent: str) -> None:
    """Called once, when a run is closed; never raises."""
    if otel.enabled() or metrics.enabled():
        spans = store.list_spans(tenant, session_id, run.run_id)
        otel.export_run(spans, agent=agent, session_id=session_id)
        metrics.record_run(run, spans, agent=agent)
