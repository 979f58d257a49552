"""Small HTTP servers for registry tests: a programmable one and one that never answers.

`ThreadedHttpServer` runs a plain function `Request -> Response` in a thread
on a loopback port, speaks HTTP/1.1 with keep-alive, logs requests, and on
`stop()` also closes open keep-alive connections, so a stopped server is
really gone (as a killed registry is).  `start()` again reuses the same port.
"""

from __future__ import annotations

import contextlib
import json
import select
import socket
import ssl
import sys
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass
class Request:
    method: str
    target: str  # as sent: raw path and query, not decoded
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def raw_path(self) -> str:
        return self.target.split("?", 1)[0]

    @property
    def query(self) -> dict[str, list[str]]:
        return parse_qs(urlsplit(self.target).query, keep_blank_values=True)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def json(self) -> Any:
        return json.loads(self.body.decode() or "null")


@dataclass
class Response:
    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def json(cls, status: int, data: Any, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(
            status,
            json.dumps(data).encode(),
            [("Content-Type", "application/json"), *(headers or [])],
        )

    @classmethod
    def text(cls, status: int, text: str, content_type: str = "text/plain") -> Response:
        return cls(status, text.encode(), [("Content-Type", content_type)])


Handler = Callable[[Request], Response]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler_class: type[BaseHTTPRequestHandler]
    ) -> None:
        self.open_sockets: set[socket.socket] = set()
        self.lock = threading.Lock()
        super().__init__(address, handler_class)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.lock:
            self.open_sockets.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer is expected here (the bot stops reading a
        hostile body at its cap); anything else is still printed."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class ThreadedHttpServer:
    """Serves `handler` on 127.0.0.1; `.url`, `.start()`, `.stop()`, `.requests`."""

    def __init__(
        self,
        handler: Handler,
        *,
        port: int | None = None,
        tls: tuple[str, str] | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        """`tls` is (certificate PEM, key PEM) to serve https; `host` another loopback
        address (127.0.0.2, ...) stands for another machine."""
        self.handler = handler
        self.host = host
        self.port = port or free_port(host)
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.requests: list[Request] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        owner = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 10

            def setup(self) -> None:
                super().setup()
                # headers and body go out in separate writes: without this, Nagle's
                # algorithm and delayed ACKs add 40 ms to every keep-alive answer
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(
                    method=self.command,
                    target=self.path,
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                if len(owner.requests) < 10_000:
                    owner.requests.append(request)
                try:
                    response = owner.handler(request)
                except Exception as exc:  # a bug in a stand-in must be visible
                    response = Response.text(500, f"stand-in crashed: {exc!r}")
                self.send_response(response.status)
                names = {name.lower() for name, _ in response.headers}
                for name, value in response.headers:
                    self.send_header(name, value)
                if "content-length" not in names:
                    self.send_header("Content-Length", str(len(response.body)))
                self.end_headers()
                if self.command != "HEAD" and response.body:
                    self.wfile.write(response.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _serve

        return _Handler

    def start(self) -> None:
        if self._server is not None:
            return
        self._server = _Server((self.host, self.port), self._handler_class())
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            with tempfile.TemporaryDirectory() as folder:
                cert, key = Path(folder, "cert.pem"), Path(folder, "key.pem")
                cert.write_text(self.tls[0])
                key.write_text(self.tls[1])
                context.load_cert_chain(cert, key)
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with server.lock:
            sockets = list(server.open_sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> ThreadedHttpServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class SilentServer:
    """Accepts TCP connections and never answers: a registry that hangs.

    With `hang_up=True` it closes each connection as soon as it is accepted:
    a server that crashes or a proxy that drops the request.
    """

    def __init__(self, *, hang_up: bool = False) -> None:
        self.hang_up = hang_up
        self.port = free_port()
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._clients: list[socket.socket] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(16)
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        assert self._sock is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([self._sock], [], [], 0.05)
            if ready:
                client, _ = self._sock.accept()
                if self.hang_up:
                    client.close()
                else:
                    self._clients.append(client)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for client in self._clients:
            client.close()
        self._clients.clear()
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> SilentServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
