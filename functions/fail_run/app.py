"""Lambda entry point: Podium's `fail_run` handler (the logic lives in podium.engine)."""

from podium.engine.handlers import fail_run as handler

__all__ = ["handler"]
