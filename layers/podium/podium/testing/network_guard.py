"""Make every connection to a non-loopback host fail loudly, so tests never call a real provider.

`install_network_guard()` patches `socket.socket.connect` / `connect_ex`,
`socket.create_connection` and `socket.getaddrinfo` (which asyncio, httpx, aiohttp and the
AWS SDK all go through). A connection to anything but loopback raises `NetworkBlockedError`
naming the host and port; resolving a hostname other than `localhost` does too. Binding,
Unix sockets and IP literals passed to `getaddrinfo` are left alone.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

__all__ = [
    "NetworkBlockedError",
    "install_network_guard",
    "is_loopback",
    "network_guard",
    "uninstall_network_guard",
]

_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})


class NetworkBlockedError(RuntimeError):
    """A test tried to reach a host other than loopback."""

    def __init__(self, host: object, port: object) -> None:
        target = f"{_host_text(host)}:{port}" if port not in (None, "", 0) else _host_text(host)
        super().__init__(f"a test tried to reach {target}; tests may only talk to 127.0.0.1")
        self.host = host
        self.port = port


def _host_text(host: object) -> str:
    if isinstance(host, bytes):
        return host.decode("ascii", "replace")
    return str(host)


def is_loopback(host: object) -> bool:
    """True for loopback (127.0.0.0/8, ::1, IPv4-mapped loopback, `localhost`) and for the
    unspecified address, which also means this machine."""
    if host is None:
        return True
    text = _host_text(host).strip("[]").lower().split("%", 1)[0]
    if text in _LOOPBACK_NAMES or text.endswith(".localhost") or text == "":
        return True
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _is_ip_literal(host: object) -> bool:
    try:
        ipaddress.ip_address(_host_text(host).strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return True


def _check_address(address: object) -> None:
    # AF_INET / AF_INET6 addresses are tuples; Unix sockets and other families pass.
    if isinstance(address, tuple) and len(address) >= 2 and not is_loopback(address[0]):
        raise NetworkBlockedError(address[0], address[1])


_lock = threading.Lock()
_originals: dict[str, Any] = {}


def install_network_guard() -> Callable[[], None]:
    """Block non-loopback connections in this process; returns the function that undoes it.
    Installing twice is harmless."""
    with _lock:
        if _originals:
            return uninstall_network_guard
        connect = socket.socket.connect
        connect_ex = socket.socket.connect_ex
        create_connection = socket.create_connection
        getaddrinfo = socket.getaddrinfo
        _originals.update(
            connect=socket.socket.__dict__.get("connect"),
            connect_ex=socket.socket.__dict__.get("connect_ex"),
            create_connection=create_connection,
            getaddrinfo=getaddrinfo,
        )

        def guarded_connect(self: socket.socket, address: Any) -> None:
            _check_address(address)
            connect(self, address)

        def guarded_connect_ex(self: socket.socket, address: Any) -> int:
            _check_address(address)
            return connect_ex(self, address)

        def guarded_create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
            _check_address(address)
            return create_connection(address, *args, **kwargs)

        def guarded_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            if not is_loopback(host) and not _is_ip_literal(host):
                raise NetworkBlockedError(host, port)
            return getaddrinfo(host, port, *args, **kwargs)

        socket.socket.connect = guarded_connect  # type: ignore[method-assign,assignment]
        socket.socket.connect_ex = guarded_connect_ex  # type: ignore[method-assign,assignment]
        socket.create_connection = guarded_create_connection
        socket.getaddrinfo = guarded_getaddrinfo
    return uninstall_network_guard


def uninstall_network_guard() -> None:
    """Restore the original socket functions (a no-op when the guard is not installed)."""
    with _lock:
        if not _originals:
            return
        for name in ("connect", "connect_ex"):
            original = _originals[name]
            if original is None:
                delattr(socket.socket, name)
            else:
                setattr(socket.socket, name, original)
        socket.create_connection = _originals["create_connection"]
        socket.getaddrinfo = _originals["getaddrinfo"]
        _originals.clear()


@contextlib.contextmanager
def network_guard() -> Iterator[None]:
    """Block non-loopback connections inside the `with` block (then restore the guard's
    previous state)."""
    already = bool(_originals)
    install_network_guard()
    try:
        yield
    finally:
        if not already:
            uninstall_network_guard()
