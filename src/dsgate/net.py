"""Ports on 127.0.0.1: one free port for a server dsgate starts (OPA, the server check's API server),
and whether a given port is free (the local cluster's components)."""

from __future__ import annotations

import errno
import socket

LOCALHOST = "127.0.0.1"


def free_port() -> int:
    """A port on 127.0.0.1 the kernel has just handed out as free (the caller binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOCALHOST, 0))
        return int(sock.getsockname()[1])


def port_free(port: int) -> bool:
    """PORT on 127.0.0.1 can be bound now (in use or forbidden: False)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((LOCALHOST, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True
