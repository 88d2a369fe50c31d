"""Every environment variable Podium reads, named once.

Settings resolve explicit argument → environment → default; `resolve` implements that order.
"""

from __future__ import annotations

import os
from pathlib import Path

# Where local state lives (SQLite database, blobs, checkpoints).
ENV_HOME = "PODIUM_HOME"
# Which store backs sessions: "sqlite" (default locally) or "dynamodb".
ENV_STORE = "PODIUM_STORE"
# DynamoDB table and S3 bucket names (set by template.yaml in AWS).
ENV_TABLE = "PODIUM_TABLE"
ENV_BUCKET = "PODIUM_BUCKET"
# Directory of agent folders.
ENV_AGENTS_DIR = "PODIUM_AGENTS_DIR"
# Log level for Podium's loggers.
ENV_LOG_LEVEL = "PODIUM_LOG_LEVEL"

# litellm: never fetch the price map over the network on import.
LITELLM_OFFLINE_ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_OFFLINE_MODE": "true"}

DEFAULT_HOME = ".podium"
DEFAULT_AGENTS_DIR = "agents"


def resolve(explicit: str | None, env_name: str, default: str) -> str:
    """Return the explicit value, else the environment's, else the default."""
    if explicit is not None:
        return explicit
    return os.environ.get(env_name, default)


def home_dir(explicit: str | None = None) -> Path:
    return Path(resolve(explicit, ENV_HOME, DEFAULT_HOME))


def agents_dir(explicit: str | None = None) -> Path:
    return Path(resolve(explicit, ENV_AGENTS_DIR, DEFAULT_AGENTS_DIR))
