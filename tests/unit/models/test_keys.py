"""Provider keys: from the environment, from Secrets Manager via Powertools, and never in a
log line, an event or an error message."""

from __future__ import annotations

import logging

import pytest

from podium.errors import ModelError
from podium.models import ModelRequest, call_model, redact, resolve_api_key
from podium.models.keys import install_log_redaction, register_secret
from podium.testing import Fault, Reply

USER = [{"role": "user", "content": "Hello"}]


def test_key_from_the_environment(test_key):
    assert resolve_api_key("openai") == test_key
    assert resolve_api_key("bedrock") is None  # litellm finds AWS credentials itself


def test_redact_masks_registered_secrets_and_key_shapes():
    register_secret("correct-horse-battery-staple")

    text = redact(
        "key correct-horse-battery-staple, sk-ant-api03-abcdefgh, "
        "Authorization: Bearer abcdefghijklmnop, id AKIAABCDEFGHIJKLMNOP"
    )

    assert text == ("key [REDACTED], [REDACTED], Authorization: [REDACTED], id [REDACTED]")


@pytest.fixture
def aws(monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        import boto3

        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_key_from_secrets_manager_by_prefix(aws, monkeypatch):
    aws.create_secret(Name="podium/openai", SecretString="sk-from-secrets-manager-123456")
    monkeypatch.setenv("PODIUM_SECRETS_PREFIX", "podium/")

    assert resolve_api_key("openai") == "sk-from-secrets-manager-123456"
    assert "sk-from-secrets-manager" not in redact("the key was sk-from-secrets-manager-123456")


def test_key_from_a_per_provider_secret_holding_json(aws, monkeypatch):
    arn = aws.create_secret(Name="anthropic-key", SecretString='{"api_key": "ant-key-9876543210"}')[
        "ARN"
    ]
    monkeypatch.setenv("PODIUM_SECRET_ANTHROPIC", arn)

    assert resolve_api_key("anthropic") == "ant-key-9876543210"
    assert redact("ant-key-9876543210") == "[REDACTED]"


def test_a_missing_secret_falls_back_to_the_environment(aws, monkeypatch, test_key, caplog):
    monkeypatch.setenv("PODIUM_SECRETS_PREFIX", "missing/")

    assert resolve_api_key("openai") == test_key
    assert "could not read the provider key secret" in caplog.text


def test_no_key_in_any_captured_log_line_event_or_error(
    fake_openai, path, *, fast_retry, run, events, caplog, capsys, test_key
):
    install_log_redaction()
    caplog.set_level(logging.DEBUG)
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    leaked = f"Incorrect API key provided: {test_key}. Find your key at the dashboard."
    fake_openai.script(
        Fault.server_error(500, f"upstream rejected {test_key}"),
        Reply("fine"),
        Fault.error(401, leaked, error_type="invalid_request_error", code="invalid_api_key"),
    )
    request = ModelRequest(
        model="openai/gpt-4.1-mini", messages=USER, api_base=fake_openai.base_url, path=path
    )

    try:
        run(call_model(request, retry=fast_retry, on_event=events.append))
        logging.getLogger("podium.test").warning("key=%s | a careless log line", test_key)
        with pytest.raises(ModelError) as caught:
            run(call_model(request, retry=fast_retry, on_event=events.append))
    finally:
        for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy", "httpx", "httpcore"):
            logging.getLogger(name).setLevel(logging.WARNING)

    assert caught.value.details["error"] == "auth"
    assert not caught.value.retryable
    assert "Incorrect API key provided: [REDACTED]" in caught.value.message
    captured = capsys.readouterr()
    everything = [
        caplog.text,
        *(record.getMessage() for record in caplog.records),
        captured.out,
        captured.err,
        str(caught.value),
        repr(caught.value.to_dict()),
        *(event.model_dump_json() for event in events),
    ]
    assert "key=[REDACTED] | a careless log line" in caplog.text
    for text in everything:
        assert test_key not in text
        assert test_key[:20] not in text
