"""Tools of the weather agent: deterministic stand-ins for a weather and a clock service."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class WeatherServiceError(Exception):
    """The (simulated) weather service failed; the agent file retries this error."""


_CONDITIONS = ["sunny", "cloudy", "light rain", "windy", "clear", "overcast"]


def get_weather(city: str) -> dict[str, object]:
    """Weather for a city, derived from its name so that answers are reproducible."""
    if not city.strip():
        raise WeatherServiceError("no city given")
    digest = int(hashlib.sha256(city.strip().lower().encode()).hexdigest(), 16)
    return {
        "city": city.strip(),
        "temperature_c": 5 + digest % 25,
        "conditions": _CONDITIONS[digest % len(_CONDITIONS)],
        "humidity_pct": 30 + digest % 60,
    }


def get_time(timezone: str) -> dict[str, str]:
    """The current time in an IANA time zone."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {timezone!r}") from exc
    now = datetime.now(UTC).astimezone(zone)
    return {"timezone": timezone, "local_time": now.strftime("%Y-%m-%d %H:%M")}
