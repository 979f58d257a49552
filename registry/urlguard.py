"""Guard against server-side request forgery: which URLs and addresses we may reach.

A user types a registry URL and the bot connects to it with stored credentials,
so a URL must not become a way into the bot's own network (cloud metadata at
169.254.169.254, databases on private addresses, ...).  The rules:

- only `http` and `https`, no credentials in the URL;
- the host is resolved once, every address is checked, and the connection goes
  to a checked address (see `registry.transport`, which calls `resolve` for
  each new connection, so DNS cannot answer differently between check and use);
- loopback, link-local, private, shared, reserved, multicast and unspecified
  addresses are refused unless inside `allowed_networks`;
- redirects and token realms are ordinary requests, so they pass the same check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import SplitResult, urlsplit

from registry.config import IPNetwork
from registry.errors import ErrorKind, RegistryError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_RE = re.compile(
    r"^(?=.{1,253}$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$"
)
_PATH_RE = re.compile(r"^[A-Za-z0-9._~!$&'()*+,;=:@%/-]*$")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_MAX_ADDRESSES = 4
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class RegistryUrl:
    """A checked, normalised base URL: `scheme://host[:port][/prefix]`, without `/v2`."""

    scheme: str
    host: str
    port: int
    path: str = ""

    @property
    def netloc(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        if self.port == DEFAULT_PORTS[self.scheme]:
            return host
        return f"{host}:{self.port}"

    @property
    def base(self) -> str:
        return f"{self.scheme}://{self.netloc}{self.path}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    def endpoint(self, path: str) -> str:
        """`path` starts with `/` (e.g. `/v2/`); the prefix of the base URL is kept."""
        return self.base + path

    def __str__(self) -> str:
        return self.base


class _HasOrigin(Protocol):
    @property
    def scheme(self) -> str: ...

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int | None: ...


def origin_of(url: _HasOrigin | str) -> str:
    """`scheme://host[:port]` in one canonical spelling (default port left out), for
    pins and messages; `url` is an httpx URL, a `RegistryUrl` or a string."""
    if isinstance(url, str):
        parts = urlsplit(url.strip())
        scheme, host, port = parts.scheme.lower(), (parts.hostname or "").lower(), parts.port
    else:
        scheme, host, port = url.scheme.lower(), url.host.lower(), url.port
    host = host.rstrip(".")
    shown = f"[{host}]" if ":" in host else host
    if port is None or port == DEFAULT_PORTS.get(scheme):
        return f"{scheme}://{shown}"
    return f"{scheme}://{shown}:{port}"


def _invalid(message: str) -> RegistryError:
    return RegistryError(ErrorKind.INVALID_URL, message)


def parse_url(text: str, *, what: str = "registry URL", keep_query: bool = False) -> RegistryUrl:
    """Check and normalise a URL typed by a user (a bare `host:port` means https).

    Messages never repeat a URL that carried credentials.  `keep_query` is for
    token realms and redirect targets, which are not typed by users.
    """
    raw = text.strip()
    if not raw:
        raise _invalid(f"The {what} is empty.")
    if any(ch.isspace() for ch in raw):
        raise _invalid(f"The {what} contains spaces.")
    if not _SCHEME_RE.match(raw):
        raw = "https://" + raw
    try:
        parts: SplitResult = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise _invalid(f"The {what} is not a valid URL (bad host or port).") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise _invalid(f"The {what} must start with http:// or https:// (got {scheme}://).")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise _invalid(
            f"The {what} must not contain a username or password; use the credential fields."
        )
    host = (parts.hostname or "").lower()
    if not host:
        raise _invalid(f"The {what} has no host name.")
    if not keep_query and (parts.query or parts.fragment):
        raise _invalid(f"The {what} must not have a query (?...) or fragment (#...).")
    if not _is_ip(host) and not _HOST_RE.match(host):
        raise _invalid(f"The {what} has an invalid host name: {host[:80]!r}.")
    path = parts.path.rstrip("/")
    if path.endswith("/v2"):
        path = path[: -len("/v2")]
    if not _PATH_RE.match(path):
        raise _invalid(f"The {what} has an invalid path.")
    return RegistryUrl(
        scheme=scheme,
        host=host.rstrip("."),
        port=port if port is not None else DEFAULT_PORTS[scheme],
        path=path,
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address hidden in an IPv4-mapped, 6to4, Teredo or NAT64 IPv6 address."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip.sixtofour is not None:
            return ip.sixtofour
        if ip.teredo is not None:
            return ip.teredo[1]  # the client's address (de-obfuscated by ipaddress)
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _nets(*pairs: tuple[str, str]) -> tuple[tuple[IPNetwork, str], ...]:
    return tuple((ipaddress.ip_network(net), phrase) for net, phrase in pairs)


# Spelled out rather than left to `ipaddress`, whose lists differ between Python
# versions (3.11 treats fec0::/10 and 100.64.0.0/10 as global, for example).
_INTERNAL: tuple[tuple[IPNetwork, str], ...] = _nets(
    ("169.254.169.254/32", "a link-local (cloud metadata)"),
    ("fd00:ec2::254/128", "a private (cloud metadata)"),
    ("0.0.0.0/32", "an unspecified"),
    ("0.0.0.0/8", "a this-network (0.0.0.0/8)"),
    ("10.0.0.0/8", "a private"),
    ("100.64.0.0/10", "a reserved or non-public (carrier-grade NAT)"),
    ("127.0.0.0/8", "a loopback"),
    ("169.254.0.0/16", "a link-local (cloud metadata)"),
    ("172.16.0.0/12", "a private"),
    ("192.0.0.0/24", "a reserved or non-public"),
    ("192.0.2.0/24", "a documentation"),
    ("192.88.99.0/24", "a reserved or non-public"),
    ("192.168.0.0/16", "a private"),
    ("198.18.0.0/15", "a benchmarking"),
    ("198.51.100.0/24", "a documentation"),
    ("203.0.113.0/24", "a documentation"),
    ("224.0.0.0/4", "a multicast"),
    ("240.0.0.0/4", "a reserved or non-public"),
    ("::/128", "an unspecified"),
    ("::1/128", "a loopback"),
    ("::/96", "a reserved or non-public"),
    ("64:ff9b:1::/48", "a local NAT64"),
    ("100::/64", "a reserved or non-public"),
    ("2001::/23", "a reserved or non-public"),
    ("2001:db8::/32", "a documentation"),
    ("3fff::/20", "a documentation"),
    ("fc00::/7", "a private (unique local)"),
    ("fe80::/10", "a link-local (cloud metadata)"),
    ("fec0::/10", "a site-local"),
    ("ff00::/8", "a multicast"),
)


def forbidden_reason(ip: IPAddress) -> str | None:
    """Why an address is internal (a phrase for messages), or None for a public address."""
    inner = _embedded_ipv4(ip)
    if inner is not None:
        reason = forbidden_reason(inner)
        return f"{reason} (inside an IPv6 address)" if reason else None
    for net, phrase in _INTERNAL:
        if ip.version == net.version and ip in net:
            return phrase
    if ip.is_unspecified:
        return "an unspecified"
    if ip.is_loopback:
        return "a loopback"
    if ip.is_link_local:
        return "a link-local (cloud metadata)"
    if ip.is_multicast:
        return "a multicast"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local"
    if ip.is_private:
        return "a private"
    if ip.is_reserved or not ip.is_global:
        return "a reserved or non-public"
    return None


class UrlGuard:
    """Decides which addresses may be reached, and resolves hosts to such addresses.

    `configured` is the whole IMAGEREPO_ALLOWED_NETWORKS list when this guard
    allows only part of it (a URL a server handed us may reach only the allowed
    networks the registry itself is in); it makes the refusal say so.
    """

    def __init__(
        self,
        allowed_networks: tuple[IPNetwork, ...] = (),
        *,
        configured: tuple[IPNetwork, ...] | None = None,
    ) -> None:
        self._allowed = allowed_networks
        self._configured = configured if configured is not None else allowed_networks

    @property
    def allowed_networks(self) -> tuple[IPNetwork, ...]:
        return self._allowed

    def restricted(self, networks: tuple[IPNetwork, ...]) -> UrlGuard:
        """A guard allowing only `networks` (a subset of this guard's allowed networks)."""
        subset = tuple(net for net in self._allowed if net in networks)
        return UrlGuard(subset, configured=self._configured)

    def _within(self, ip: IPAddress, networks: tuple[IPNetwork, ...]) -> list[IPNetwork]:
        inner = _embedded_ipv4(ip)
        return [
            net
            for net in networks
            if (ip.version == net.version and ip in net)
            or (inner is not None and net.version == 4 and inner in net)
        ]

    async def networks_of(
        self, host: str, port: int, within: float | None
    ) -> tuple[IPNetwork, ...]:
        """The allowed networks that `host` resolves into (empty for a public host).

        A URL that a server hands us (a redirect, an upload Location, a token
        realm) may reach an allowed internal network only if the registry's own
        host is in that network too.
        """
        if not self._allowed:
            return ()
        try:
            addresses = await self.resolve(host, port, within)
        except RegistryError:
            return ()
        found: list[IPNetwork] = []
        for address in addresses:
            if forbidden_reason(address) is None:
                continue
            found.extend(n for n in self._within(address, self._allowed) if n not in found)
        return tuple(found)

    def refusal(self, ip: IPAddress) -> str | None:
        """The reason to refuse `ip`, or None when it may be reached."""
        if any(ip.version == net.version and ip in net for net in self._allowed):
            return None
        inner = _embedded_ipv4(ip)
        if inner is not None and any(inner in net for net in self._allowed if net.version == 4):
            return None
        return forbidden_reason(ip)

    def _refused(self, host: str, ip: IPAddress, reason: str) -> RegistryError:
        where = host if host == str(ip) else f"{host} ({ip})"
        if self._within(ip, self._configured):
            return RegistryError(
                ErrorKind.REFUSED_TARGET,
                f"Refused to connect to {where}: it is {reason} address in "
                "IMAGEREPO_ALLOWED_NETWORKS, but the registry's own address is not in that "
                "network, and a registry may only send the bot into networks it is in.",
            )
        return RegistryError(
            ErrorKind.REFUSED_TARGET,
            f"Refused to connect to {where}: it is {reason} address, and internal addresses "
            "are off limits unless listed in IMAGEREPO_ALLOWED_NETWORKS.",
        )

    async def resolve(self, host: str, port: int, within: float | None) -> list[IPAddress]:
        """Resolve once and return the allowed addresses (at most a few), or raise.

        Raises REFUSED_TARGET when no address may be reached, DNS_FAILURE when
        the name does not resolve, TIMEOUT when the resolver does not answer.
        """
        literal = host[1:-1] if host.startswith("[") and host.endswith("]") else host
        try:
            ip = ipaddress.ip_address(literal)
        except ValueError:
            pass
        else:
            reason = self.refusal(ip)
            if reason is not None:
                raise self._refused(host, ip, reason)
            return [ip]
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=within
            )
        except TimeoutError:
            raise RegistryError(
                ErrorKind.TIMEOUT, f"DNS lookup of {host} did not answer within {within or 0:g} s."
            ) from None
        except (socket.gaierror, UnicodeError) as exc:
            detail = exc.strerror if isinstance(exc, socket.gaierror) else "invalid name"
            raise RegistryError(
                ErrorKind.DNS_FAILURE, f"DNS lookup failed for {host}: {detail}."
            ) from None
        allowed: list[IPAddress] = []
        first_refusal: tuple[IPAddress, str] | None = None
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
            reason = self.refusal(address)
            if reason is not None:
                first_refusal = first_refusal or (address, reason)
            elif address not in allowed:
                allowed.append(address)
        if allowed:
            return allowed[:_MAX_ADDRESSES]
        if first_refusal is not None:
            raise self._refused(host, *first_refusal)
        raise RegistryError(ErrorKind.DNS_FAILURE, f"DNS lookup for {host} returned no address.")
