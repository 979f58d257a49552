"""Runs the ASGI app under uvicorn with limits set, on HOST:PORT and (optionally)
METRICS_HOST:METRICS_PORT.

uvicorn's defaults leave the number of connections unbounded. The bot answers the
public internet, so the limits are set here rather than left to the deployment:
the body limit and deadline live in `server.asgi`; these bound what comes before it.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import uvicorn

# A server; which interfaces are exposed is the deployment's choice (HOST, METRICS_HOST).
BIND_HOST = "0.0.0.0"  # noqa: S104

# Connections plus requests being served at once; beyond it uvicorn answers 503 at once
# instead of queuing without bound. bench/ack.py drives 50 concurrent clients.
LIMIT_CONCURRENCY = 500
# The request line and headers together (h11 refuses bigger ones with 431). Slack's headers
# are well under 2 KB.
MAX_HEADER_BYTES = 16 * 1024
# An idle keep-alive connection is closed after this many seconds.
TIMEOUT_KEEP_ALIVE = 5


class ListenError(Exception):
    """A port could not be bound; the message names it and why."""


def listen(port: int, what: str, host: str = BIND_HOST, host_name: str = "HOST") -> socket.socket:
    """A socket bound to `host:port` (uvicorn calls listen on it); bound here, before
    anything says "serving", so a port in use or an address this machine does not have
    is one line naming the setting."""
    family = socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off (TCP_NODELAY) only on accepted sockets
    # whose `proto` says TCP; with proto 0 every answer waited for the client's delayed
    # ACK, 40 ms (bench/ack.py: help at 50 clients went from 15 to 60 ms).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        where = f"{what} {port}" if host == BIND_HOST else f"{host_name} {host} {what} {port}"
        raise ListenError(f"cannot listen on {where}: {error.strerror}") from None
    return sock


def bind(
    port: int, metrics_port: int | None, *, host: str = BIND_HOST, metrics_host: str = BIND_HOST
) -> list[socket.socket]:
    """The listening sockets serve() needs, bound now (both, or neither)."""
    sockets = [listen(port, "PORT", host, "HOST")]
    if metrics_port is not None:
        try:
            sockets.append(listen(metrics_port, "METRICS_PORT", metrics_host, "METRICS_HOST"))
        except ListenError:
            sockets[0].close()
            raise
    return sockets


def uvicorn_config(app: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        # h11, not httptools: only h11 honours the header-size limit below.
        http="h11",
        log_config=None,  # keep the JSON handler from bot.logs
        access_log=False,
        limit_concurrency=LIMIT_CONCURRENCY,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=TIMEOUT_KEEP_ALIVE,
    )


def serve(app: Any, sockets: list[socket.socket]) -> None:
    """Serve until SIGTERM/SIGINT. One uvicorn server on the sockets bind() gave: the app
    tells the ports apart by the local address in each request's scope."""
    uvicorn.Server(uvicorn_config(app)).run(sockets=sockets)
