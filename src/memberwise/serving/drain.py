"""SIGTERM drains: requests already accepted are answered, new connections are refused at once.

`bentoml serve` keeps the listening socket open in its supervisor until every worker has exited, while
uvicorn in the worker stops accepting as soon as SIGTERM arrives and then finishes its requests. For
that whole drain, clients' new connections were completed by the kernel and queued on a socket nobody
accepted any more, then reset when the supervisor exited: under load, requests sent during a graceful
stop failed with "connection reset". `refuse_on_sigterm` shuts the listening socket down (for every
process sharing it) the moment SIGTERM arrives, so those clients get "connection refused" instead
(nothing was sent; retry elsewhere) and the requests in flight still complete.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import threading
from types import FrameType
from typing import Any

import psutil


def _listening_sockets() -> dict[int, socket.socket]:
    """The listening TCP sockets of this process, by fd, each with a duplicate descriptor of our own."""
    fds = [c.fd for c in psutil.Process().net_connections(kind="tcp") if c.status == psutil.CONN_LISTEN]
    return {fd: socket.socket(fileno=os.dup(fd)) for fd in fds if fd >= 0}


def _stop_listening(loop: asyncio.AbstractEventLoop, sockets: dict[int, socket.socket]) -> None:
    """Stop the loop accepting on each socket, then shut it down in the kernel (connects are refused)."""
    for fd, own in sockets.items():
        with contextlib.suppress(OSError):  # the server already closed its descriptor: nothing to remove
            if os.fstat(fd).st_ino == os.fstat(own.fileno()).st_ino:
                loop.remove_reader(fd)  # else accept() on the shut socket would fail in a busy loop
        with contextlib.suppress(OSError):
            own.shutdown(socket.SHUT_RD)
        own.close()


def refuse_on_sigterm() -> bool:
    """Chain a SIGTERM handler that refuses new connections before the server's own graceful stop.

    Call from the worker's main thread while its event loop runs (the service's startup); returns
    whether it was installed.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return False
    if threading.current_thread() is not threading.main_thread():
        return False
    sockets = _listening_sockets()
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum: int, frame: FrameType | None) -> Any:
        loop.call_soon_threadsafe(_stop_listening, loop, sockets)
        if callable(previous):
            return previous(signum, frame)
        return None

    signal.signal(signal.SIGTERM, on_sigterm)
    return True
