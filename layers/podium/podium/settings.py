"""Every environment variable Podium reads, named once.

Settings resolve explicit argument → environment → default; `resolve` implements that order.
"""

from __future__ import annotations

import os
from pathlib import Path

# Where local state lives (SQLite database, blobs, checkpoints).
ENV_HOME = "PODIUM_HOME"
# The local runner's lease, in seconds (default 15): how soon after a runner dies another takes
# over its runs.
ENV_RUNNER_LEASE_S = "PODIUM_RUNNER_LEASE_S"
# Which store backs sessions: "sqlite" (default locally) or "dynamodb".
ENV_STORE = "PODIUM_STORE"
# DynamoDB table and S3 bucket names (set by template.yaml in AWS).
ENV_TABLE = "PODIUM_TABLE"
ENV_BUCKET = "PODIUM_BUCKET"
# The run state machine (AWS) and the event write batching window in milliseconds.
ENV_STATE_MACHINE_ARN = "PODIUM_STATE_MACHINE_ARN"
ENV_EVENT_BATCH_MS = "PODIUM_EVENT_BATCH_MS"
# Directory of agent folders.
ENV_AGENTS_DIR = "PODIUM_AGENTS_DIR"
# Log level for Podium's loggers.
ENV_LOG_LEVEL = "PODIUM_LOG_LEVEL"
# AWS: the EventBridge bus a "Podium Run Finished" event goes to when a run ends (unset: none).
ENV_EVENT_BUS = "PODIUM_EVENT_BUS"
# AWS event triggers (SQS, EventBridge): the tenant and agent of a message that names none.
ENV_TRIGGER_TENANT = "PODIUM_TRIGGER_TENANT"
ENV_TRIGGER_AGENT = "PODIUM_TRIGGER_AGENT"

# Models: provider keys from AWS — a Secrets Manager prefix (`<prefix><provider>`), or one
# secret per provider in `PODIUM_SECRET_<PROVIDER>` (name, ARN, or `ssm:<parameter>`), cached
# for `PODIUM_SECRETS_MAX_AGE_S` seconds.
ENV_SECRETS_PREFIX = "PODIUM_SECRETS_PREFIX"
ENV_SECRET_PREFIX_PER_PROVIDER = "PODIUM_SECRET_"
ENV_SECRETS_MAX_AGE = "PODIUM_SECRETS_MAX_AGE_S"
# Models: how calls are made — "auto" (lean path for OpenAI-wire providers), "lean", "litellm".
ENV_MODEL_CALL_PATH = "PODIUM_MODEL_CALL_PATH"
# The demo model: milliseconds between streamed tokens (0: as fast as possible).
ENV_DEMO_TOKEN_DELAY_MS = "PODIUM_DEMO_TOKEN_DELAY_MS"

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


# Store: payloads larger than this many bytes go to the blob store (default 200 KB).
ENV_BLOB_THRESHOLD = "PODIUM_BLOB_THRESHOLD"
DEFAULT_BLOB_THRESHOLD = 200 * 1024
# Store: file name of the local SQLite database under PODIUM_HOME.
DEFAULT_SQLITE_FILE = "podium.db"
