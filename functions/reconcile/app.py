"""Lambda entry point: Podium's `reconcile` handler (the logic lives in podium.engine)."""

from podium.engine.handlers import reconcile as handler

__all__ = ["handler"]
