"""Lambda entry point: Podium's `run_tool` handler (the logic lives in podium.engine)."""

from podium.engine.handlers import run_tool as handler

__all__ = ["handler"]
