"""Serving a fake on loopback in a daemon thread, instant to stop (the fakes start one server per test)."""

from __future__ import annotations

import contextlib
import socket
import threading
from typing import Any


class ServedInThread:
    """start()/stop() and the context manager of a fake's HTTP server.

    Subclasses set `thread_name`, build their server in `_new_server()` (an http.server with
    `close_open_connections()`), and learn their address in `_on_started(host, port)`. They call
    `ServedInThread.__init__` (or set `_server`, `_thread` and `_stopping` themselves).
    """

    thread_name = "fake"

    def __init__(self) -> None:
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    def _new_server(self) -> Any:
        raise NotImplementedError

    def _on_started(self, host: str, port: int) -> None:
        raise NotImplementedError

    def start(self) -> Any:
        if self._server is not None:
            return self
        self._server = self._new_server()
        self._server.timeout = None  # handle_request blocks until a connection; stop() wakes it with one
        host, port = self._server.server_address[:2]
        self._on_started(host, port)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, args=(self._server,), name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def _serve(self, server: Any) -> None:
        """Like serve_forever, but without its 0.5 s poll, so stop() is instant."""
        while not self._stopping.is_set():
            server.handle_request()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None or thread is None:
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            socket.create_connection(server.server_address[:2], timeout=1).close()  # wake handle_request
        thread.join(timeout=5)
        server.close_open_connections()
        server.server_close()

    def __enter__(self) -> Any:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def read_request_body(handler: Any) -> bytes:
    """The request body of a BaseHTTPRequestHandler, Content-Length or chunked (as requests may send)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        chunks = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(chunks)
            chunks.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length > 0 else b""
