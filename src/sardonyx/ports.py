"""TCP ports on the loopback interface: is one free, find a free one, refuse to start on a taken one."""

from __future__ import annotations

import errno
import socket
from collections.abc import Mapping

from sardonyx.errors import Conflict, Violation


class PortInUse(Conflict):
    """A port the platform must bind is already taken by another program (every taken port listed)."""

    reason = "port-in-use"
    title = "Port already in use"


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when ``host:port`` can be bound now (TCP). Uses ``SO_REUSEADDR`` as servers do, so a port in
    TIME_WAIT counts as free."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as error:
            if error.errno in {errno.EADDRINUSE, errno.EACCES}:
                return False
            raise
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``host`` right now (chosen by the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct free ports (held open together while chosen, so they differ)."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, 0))
        return [int(s.getsockname()[1]) for s in sockets]
    finally:
        for sock in sockets:
            sock.close()


def ensure_ports_free(ports: Mapping[str, int], host: str = "127.0.0.1", *, what: str = "the platform") -> None:
    """Raise ``PortInUse`` listing every port of ``ports`` (name -> port) that is taken on ``host``.

    The violation path is the setting to change (e.g. ``s3.ports.filer``)."""
    taken = [
        Violation(name, f"port {port} is already in use on {host}")
        for name, port in ports.items()
        if not port_is_free(port, host)
    ]
    if taken:
        numbers = ", ".join(v.reason.split()[1] for v in taken)
        raise PortInUse(
            f"{what} cannot start: port {numbers} already in use on {host}; stop the program using it or "
            "choose other ports in the settings (`sardonyx settings` lists them)",
            violations=taken,
        )
