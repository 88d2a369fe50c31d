"""Redaction: the agent's `redact` rules applied to anything before it is stored or logged."""

from __future__ import annotations

import re
from typing import Any

from podium.protocol.agent import Redaction

REDACTED = "[REDACTED]"


class Redactor:
    """Removes the values at field paths and every match of the patterns.

    A field path (`arguments.card_number`, `*.email`) matches wherever its keys end a path
    through the data, at any depth; `*` matches any one key.
    """

    def __init__(self, rules: Redaction | None = None) -> None:
        self.paths = [path.split(".") for path in (rules.fields if rules else [])]
        patterns = rules.patterns if rules else []
        self.pattern = re.compile("|".join(f"(?:{p})" for p in patterns)) if patterns else None
        if patterns:  # the same patterns are masked in every log record of this process
            from podium.models.keys import install_log_redaction, register_pattern  # noqa: PLC0415

            for pattern in patterns:
                register_pattern(pattern)
            install_log_redaction()

    @property
    def active(self) -> bool:
        return bool(self.paths or self.pattern)

    def __call__(self, value: Any) -> Any:
        return self.apply(value) if self.active else value

    def apply(self, value: Any, trail: tuple[str, ...] = ()) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                here = (*trail, str(key))
                out[key] = REDACTED if self._matches(here) else self.apply(item, here)
            return out
        if isinstance(value, list):
            return [self.apply(item, trail) for item in value]
        if isinstance(value, str) and self.pattern is not None:
            return self.pattern.sub(REDACTED, value)
        return value

    def _matches(self, trail: tuple[str, ...]) -> bool:
        for path in self.paths:
            if len(path) <= len(trail) and all(
                want in ("*", have) for want, have in zip(path, trail[-len(path) :], strict=True)
            ):
                return True
        return False
