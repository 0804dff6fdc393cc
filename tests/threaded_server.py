"""An ASGI app served by uvicorn in a thread of the test process, on 127.0.0.1, stopped on exit."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


@contextmanager
def threaded_uvicorn(app: Any, port: int, name: str, timeout: float = 30.0) -> Iterator[uvicorn.Server]:
    """Serve ``app`` on ``127.0.0.1:port`` until the block ends (then stop it and join the thread, 30 s at most).

    Raises:
        RuntimeError: the server did not start within ``timeout`` seconds (its thread died or is too slow).
    """
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the test server {name!r} did not start on port {port}")
        time.sleep(0.02)
    try:
        yield server
    finally:
        server.should_exit = True
        thread.join(30)
