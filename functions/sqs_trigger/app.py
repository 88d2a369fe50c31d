"""Lambda entry point: event-triggered runs — SQS messages (partial batch responses),
EventBridge "Podium Run Request" events and EventBridge Scheduler inputs each start a run,
once per message key (see `podium.engine.triggers`)."""

from podium.engine.triggers import handler

__all__ = ["handler"]
