"""Usage and cost rollups over a time range: by tenant, day, agent, model or session.

Tenant, day, agent and model totals come from the store's daily counters (added atomically
with every model call), so a rollup reads one item per day × agent × model, never the runs.
Per-session totals come from the sessions active in the range; a run's own usage is on the
run.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

from podium.errors import InputError
from podium.store.models import Usage

if TYPE_CHECKING:
    from podium.store.base import Store

GroupBy = Literal["tenant", "day", "agent", "model", "session"]
MAX_DAYS = 366


class UsageView(BaseModel):
    """Usage as the API and the CLI show it (cost in USD)."""

    model_config = ConfigDict(defer_build=True)  # built on first use

    model_calls: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    reasoning_tokens: int
    cost_usd: float

    @staticmethod
    def fields(usage: Usage) -> dict[str, int | float]:
        return {
            "model_calls": usage.requests,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cached_tokens": usage.cached_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
            "cost_usd": usage.cost_usd,
        }

    @classmethod
    def of(cls, usage: Usage) -> UsageView:
        return cls.model_validate(cls.fields(usage))


class UsageRow(UsageView):
    """One group of a rollup: its key (e.g. `{"agent": "weather"}`) and its usage."""

    key: dict[str, str]

    @classmethod
    def keyed(cls, key: dict[str, str], usage: Usage) -> UsageRow:
        return cls.model_validate({"key": key, **cls.fields(usage)})


class UsageReport(BaseModel):
    model_config = ConfigDict(defer_build=True)  # built on first use

    tenant: str
    since: str
    until: str
    group_by: str
    rows: list[UsageRow]
    total: UsageRow


def parse_day(value: str | None, default: date) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise InputError(f"not a date: {value!r} (use YYYY-MM-DD)") from None


def rollup(
    store: Store, tenant: str, *, since: str | None = None, until: str | None = None,
    group_by: GroupBy = "agent", now: float | None = None,
) -> UsageReport:  # fmt: skip
    """Usage of `tenant` from `since` to `until` (UTC days, inclusive; default: 30 days)."""
    today = datetime.fromtimestamp(now, UTC).date() if now else datetime.now(UTC).date()
    last = parse_day(until, today)
    first = parse_day(since, last - timedelta(days=29))
    if first > last:
        raise InputError("`from` is after `to`")
    if (last - first).days >= MAX_DAYS:
        raise InputError(f"a range covers at most {MAX_DAYS} days")
    totals: dict[tuple[tuple[str, str], ...], Usage] = {}
    if group_by == "session":
        start = datetime.combine(first, datetime.min.time(), UTC).timestamp()
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), UTC).timestamp()
        cursor = None
        while True:
            page = store.list_sessions(
                tenant, updated_after=start, updated_before=end, limit=200, cursor=cursor
            )
            for session in page.items:
                session_key: tuple[tuple[str, str], ...] = (
                    ("session_id", session.session_id),
                    ("agent", session.agent),
                )
                totals[session_key] = session.usage
            cursor = page.cursor
            if cursor is None:
                break
    else:
        for record in store.list_usage(
            tenant, since_day=first.isoformat(), until_day=last.isoformat()
        ):
            fields = {"tenant": tenant, "day": record.day, "agent": record.agent,
                      "model": record.model}  # fmt: skip
            key: tuple[tuple[str, str], ...] = ((str(group_by), fields[group_by]),)
            totals[key] = totals.get(key, Usage()).plus(record.usage)
    rows = [UsageRow.keyed(dict(key), usage) for key, usage in sorted(totals.items())]
    grand = Usage()
    for usage in totals.values():
        grand = grand.plus(usage)
    return UsageReport(
        tenant=tenant,
        since=first.isoformat(),
        until=last.isoformat(),
        group_by=group_by,
        rows=rows,
        total=UsageRow.keyed({}, grand),
    )
