"""The session-wide network guard (installed by tests/conftest.py) blocks every
non-loopback connection and names the host."""

from __future__ import annotations

import socket

import httpx
import openai
import pytest

from podium.testing.network_guard import (
    NetworkBlockedError,
    install_network_guard,
    is_loopback,
    network_guard,
    uninstall_network_guard,
)


def test_resolving_a_real_host_is_blocked_with_a_clear_message():
    with pytest.raises(NetworkBlockedError) as caught:
        socket.getaddrinfo("api.openai.com", 443)
    assert str(caught.value) == (
        "a test tried to reach api.openai.com:443; tests may only talk to 127.0.0.1"
    )


@pytest.mark.parametrize("address", [("192.0.2.10", 443), ("2001:db8::1", 80)])
def test_connecting_to_a_non_loopback_address_is_blocked(address):
    family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        with pytest.raises(NetworkBlockedError, match=r"192\.0\.2\.10:443|2001:db8::1:80"):
            sock.connect(address)
        with pytest.raises(NetworkBlockedError):
            sock.connect_ex(address)
    with pytest.raises(NetworkBlockedError):
        socket.create_connection(address, timeout=0.1)


def _chain(error: BaseException | None) -> list[BaseException]:
    chain = []
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def test_http_clients_cannot_reach_a_real_provider():
    with pytest.raises(Exception) as httpx_error:
        httpx.get("https://api.openai.com/v1/models")

    client = openai.OpenAI(api_key="sk-real-looking", max_retries=0)
    with pytest.raises(Exception) as sdk_error:
        client.models.list()

    for caught in (httpx_error, sdk_error):
        blocked = [e for e in _chain(caught.value) if isinstance(e, NetworkBlockedError)]
        assert blocked, caught.value
        assert "api.openai.com:443" in str(blocked[0])


def test_loopback_is_allowed(fake_openai):
    host, port = "127.0.0.1", int(fake_openai.url.rsplit(":", 1)[1])
    socket.create_connection((host, port), timeout=1).close()
    assert socket.getaddrinfo("localhost", port)
    assert httpx.get(f"http://localhost:{port}/v1/models").status_code == 200


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("api.localhost", True),
        (b"localhost", True),
        ("0.0.0.0", True),
        (None, True),
        ("10.0.0.1", False),
        ("api.openai.com", False),
        ("8.8.8.8", False),
    ],
)
def test_is_loopback(host, expected):
    assert is_loopback(host) is expected


def test_uninstall_and_reinstall_restore_the_socket_functions():
    guarded = socket.getaddrinfo
    uninstall_network_guard()
    try:
        assert socket.getaddrinfo is not guarded
        assert "connect" not in socket.socket.__dict__
        with network_guard():
            assert "connect" in socket.socket.__dict__
        assert "connect" not in socket.socket.__dict__
    finally:
        install_network_guard()
    assert "connect" in socket.socket.__dict__
    with pytest.raises(NetworkBlockedError):
        socket.getaddrinfo("example.com", 80)
