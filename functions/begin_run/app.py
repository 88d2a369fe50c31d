"""Lambda entry point: Podium's `begin_run` handler (the logic lives in podium.engine)."""

from podium.engine.handlers import begin_run as handler

__all__ = ["handler"]
