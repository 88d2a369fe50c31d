"""Lambda entry point: Podium's `record_tools` handler (the logic lives in podium.engine)."""

from podium.engine.handlers import record_tools as handler

__all__ = ["handler"]
