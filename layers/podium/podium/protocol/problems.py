"""A problem found in an agent file, and how it prints."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

Severity = Literal["error", "warning"]


class Problem(BaseModel):
    """One thing wrong with an agent file, with where it is and how to fix it."""

    model_config = ConfigDict(frozen=True)

    file: str
    line: int
    column: int
    path: str
    """The field path, e.g. `tools[0].retry.max_attempts` (empty for the whole file)."""
    message: str
    hint: str | None = None
    severity: Severity = "error"
    code: str
    """A stable identifier of the kind of problem, e.g. `unknown_key`, `unknown_alias`."""

    def format(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}"
        field = f" {self.path}:" if self.path else ""
        text = f"{where}: {self.severity}:{field} {self.message}"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text


def format_path(path: tuple[str | int, ...]) -> str:
    """`("tools", 0, "retry")` → `tools[0].retry`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
