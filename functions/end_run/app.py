"""Lambda entry point: Podium's `end_run` handler (the logic lives in podium.engine)."""

from podium.engine.handlers import end_run as handler

__all__ = ["handler"]
