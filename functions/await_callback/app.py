"""Lambda entry point: Podium's `await_callback` handler (the logic lives in podium.engine)."""

from podium.engine.handlers import await_callback as handler

__all__ = ["handler"]
