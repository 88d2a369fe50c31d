"""Lambda entry point: Podium's `model_step` handler (the logic lives in podium.engine)."""

from podium.engine.handlers import model_step as handler

__all__ = ["handler"]
