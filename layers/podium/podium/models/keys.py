"""Provider API keys, and keeping them out of every log line and error message.

Resolution for a provider (`openai`, `anthropic`, …), first that answers:

1. `PODIUM_SECRET_<PROVIDER>` (e.g. `PODIUM_SECRET_OPENAI`): a Secrets Manager secret name or
   ARN, or an SSM parameter name starting with `ssm:` (e.g. `ssm:/podium/openai`).
2. `PODIUM_SECRETS_PREFIX` (e.g. `podium/`): the Secrets Manager secret `<prefix><provider>`.
3. The provider's usual environment variable (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, …).

Secrets are read with Powertools parameters (cached for `PODIUM_SECRETS_MAX_AGE_S`, default
300 s) and imported only when a secret is configured. A secret may hold the bare key or a
JSON object with `api_key`. Every key resolved, and every known key variable's value, is
registered with the redactor: `redact` masks them (and anything shaped like `sk-…` or a
bearer token), and `install_log_redaction` applies it to every log record in the process.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import traceback
from typing import Any

from podium import settings

__all__ = [
    "PROVIDER_KEY_ENV",
    "install_log_redaction",
    "redact",
    "register_secret",
    "resolve_api_key",
]

logger = logging.getLogger(__name__)

# The environment variables litellm reads for each provider's key.
PROVIDER_KEY_ENV: dict[str, str] = {
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
    "mistral": "MISTRAL_API_KEY",
    "groq": "GROQ_API_KEY",
    "cohere": "COHERE_API_KEY",
    "deepseek": "DEEPSEEK_API_KEY",
    "xai": "XAI_API_KEY",
    "openrouter": "OPENROUTER_API_KEY",
    "together_ai": "TOGETHERAI_API_KEY",
    "fireworks_ai": "FIREWORKS_AI_API_KEY",
    "azure": "AZURE_API_KEY",
}

MASK = "[REDACTED]"
_MIN_SECRET_CHARS = 8
_SHAPES = re.compile(
    r"sk-[A-Za-z0-9_\-]{8,}"  # OpenAI / Anthropic style keys
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/\-]{8,}=*"  # bearer tokens
    r"|AKIA[0-9A-Z]{16}"  # AWS access key ids
)
_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_installed = False


def register_secret(value: str | None) -> None:
    """Mask `value` wherever it appears from now on (values under 8 characters are ignored)."""
    global _pattern  # noqa: PLW0603 - one registry per process, by design
    if not value or len(value) < _MIN_SECRET_CHARS or value in _secrets:
        return
    with _lock:
        _secrets.add(value)
        alternatives = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(secret) for secret in alternatives))


_extra_patterns: list[re.Pattern[str]] = []


def register_pattern(pattern: str) -> None:
    """Mask every match of `pattern` (an agent's `redact.patterns`) in logs from now on."""
    with _lock:
        if all(existing.pattern != pattern for existing in _extra_patterns):
            _extra_patterns.append(re.compile(pattern))


def _register_env_keys() -> None:
    for name in PROVIDER_KEY_ENV.values():
        register_secret(os.environ.get(name))


def redact(text: str) -> str:
    """`text` with every known secret and every key-shaped string replaced by `[REDACTED]`."""
    pattern = _pattern
    if pattern is not None:
        text = pattern.sub(MASK, text)
    for extra in _extra_patterns:
        text = extra.sub(MASK, text)
    return _SHAPES.sub(MASK, text)


def read_secret(name: str) -> str | None:
    """A Secrets Manager secret (or `ssm:` parameter) via Powertools, cached."""
    from aws_lambda_powertools.utilities import parameters  # noqa: PLC0415 - AWS only

    max_age = int(settings.resolve(None, settings.ENV_SECRETS_MAX_AGE, "300"))
    value: Any
    if name.startswith("ssm:"):
        value = parameters.get_parameter(name[4:], decrypt=True, max_age=max_age)
    else:
        value = parameters.get_secret(name, max_age=max_age)
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if not isinstance(value, str):
        return None
    text = value.strip()
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            return text
        for key in ("api_key", "apiKey", "key", "value"):
            if isinstance(data.get(key), str):
                return str(data[key])
        return None
    return text


def resolve_api_key(provider: str) -> str | None:
    """The API key for a provider, or None to let litellm find its own credentials (AWS
    roles for Bedrock, Google credentials for Vertex, no key for a local server)."""
    _register_env_keys()
    secret_name = os.environ.get(f"{settings.ENV_SECRET_PREFIX_PER_PROVIDER}{provider.upper()}")
    prefix = os.environ.get(settings.ENV_SECRETS_PREFIX)
    if not secret_name and prefix:
        secret_name = f"{prefix}{provider}"
    if secret_name:
        try:
            value = read_secret(secret_name)
        except Exception as exc:  # a missing secret falls back to the environment
            logger.warning(
                "provider=%s secret=%s error=%s | could not read the provider key secret",
                provider,
                secret_name,
                type(exc).__name__,
            )
            value = None
        if value:
            register_secret(value)
            return value
    env_name = PROVIDER_KEY_ENV.get(provider)
    value = os.environ.get(env_name) if env_name else None
    return value or None


def _redacting_factory(factory: Any) -> Any:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = factory(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is logging's problem, not ours
            return record
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text)
            record.exc_info = None
        return record

    return make


def install_log_redaction() -> None:
    """Redact every log record created in this process from now on (idempotent).

    Done at record creation (the log record factory), so records from any logger — litellm's
    and httpx's included — are clean before any handler or capture sees them.
    """
    global _installed  # noqa: PLW0603 - installed once per process
    _register_env_keys()
    with _lock:
        if _installed:
            return
        logging.setLogRecordFactory(_redacting_factory(logging.getLogRecordFactory()))
        _installed = True
