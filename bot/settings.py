"""Settings read from the environment, validated once at start.

Every problem is reported as a `SettingsError` whose message is one line a person
can act on; `server.cli` prints it and exits instead of showing a traceback.
"""

from __future__ import annotations

import ipaddress
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from registry.config import AZURE_AUTHORITY, GOOGLE_API_URL

DEFAULT_DATABASE_URL = "sqlite:///./imagerepo.db"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
DEFAULT_DOCKERHUB_REGISTRY_URL = "https://registry-1.docker.io"
DEFAULT_DOCKERHUB_API_URL = "https://hub.docker.com"
DEFAULT_GITHUB_API_URL = "https://api.github.com"

# Every interface: a container or a host decides what reaches it; HOST narrows it.
DEFAULT_HOST = "0.0.0.0"  # noqa: S104
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "text")
# Slack's token kinds by prefix (docs.slack.dev, "Tokens": bot tokens start xoxb-,
# app-level tokens xapp-, user tokens xoxp-).
BOT_TOKEN_PREFIX = "xoxb-"
APP_TOKEN_PREFIX = "xapp-"

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class SettingsError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


@dataclass(frozen=True)
class Settings:
    """The whole configuration of one bot process (see DESIGN.md, Interface contract)."""

    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_api_url: str = DEFAULT_SLACK_API_URL
    database_url: str = DEFAULT_DATABASE_URL
    secret_keys: tuple[str, ...] = field(default=(), repr=False)
    allowed_networks: tuple[IpNetwork, ...] = ()
    recheck_interval: float = 3600.0
    recheck_concurrency: int = 50
    alert_after: int = 2
    dockerhub_registry_url: str = DEFAULT_DOCKERHUB_REGISTRY_URL
    dockerhub_api_url: str = DEFAULT_DOCKERHUB_API_URL
    github_api_url: str = DEFAULT_GITHUB_API_URL
    port: int = 3000
    metrics_port: int | None = None
    host: str = DEFAULT_HOST
    metrics_host: str = DEFAULT_HOST
    log_level: str = "info"
    log_format: str = "json"
    aws_region: str | None = None
    google_api_url: str = GOOGLE_API_URL
    google_location: str | None = None
    azure_authority: str = AZURE_AUTHORITY
    audit_retention_days: int = 400

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read and validate every variable; raise SettingsError on the first bad one."""
        env = os.environ if env is None else env

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        database_url = get("DATABASE_URL") or DEFAULT_DATABASE_URL
        _validate_database_url(database_url)
        port = _port("PORT", get("PORT"))
        metrics_port = _metrics_port(get("METRICS_PORT"), port)
        return cls(
            slack_bot_token=get("SLACK_BOT_TOKEN"),
            slack_signing_secret=get("SLACK_SIGNING_SECRET"),
            slack_app_token=get("SLACK_APP_TOKEN"),
            slack_api_url=_http_url("SLACK_API_URL", get("SLACK_API_URL") or DEFAULT_SLACK_API_URL),
            database_url=database_url,
            secret_keys=_split_keys(get("IMAGEREPO_SECRET_KEYS")),
            allowed_networks=_networks(get("IMAGEREPO_ALLOWED_NETWORKS")),
            recheck_interval=_positive_float(
                "IMAGEREPO_RECHECK_INTERVAL", get("IMAGEREPO_RECHECK_INTERVAL"), 3600.0
            ),
            recheck_concurrency=_positive_int(
                "IMAGEREPO_RECHECK_CONCURRENCY", get("IMAGEREPO_RECHECK_CONCURRENCY"), 50
            ),
            alert_after=_positive_int("IMAGEREPO_ALERT_AFTER", get("IMAGEREPO_ALERT_AFTER"), 2),
            dockerhub_registry_url=_http_url(
                "IMAGEREPO_DOCKERHUB_REGISTRY_URL",
                get("IMAGEREPO_DOCKERHUB_REGISTRY_URL") or DEFAULT_DOCKERHUB_REGISTRY_URL,
            ),
            dockerhub_api_url=_http_url(
                "IMAGEREPO_DOCKERHUB_API_URL",
                get("IMAGEREPO_DOCKERHUB_API_URL") or DEFAULT_DOCKERHUB_API_URL,
            ),
            github_api_url=_http_url(
                "IMAGEREPO_GITHUB_API_URL",
                get("IMAGEREPO_GITHUB_API_URL") or DEFAULT_GITHUB_API_URL,
            ),
            port=port,
            metrics_port=metrics_port,
            host=_host("HOST", get("HOST")),
            metrics_host=_host("METRICS_HOST", get("METRICS_HOST")),
            log_level=_choice("LOG_LEVEL", get("LOG_LEVEL"), LOG_LEVELS, "info"),
            log_format=_choice("LOG_FORMAT", get("LOG_FORMAT"), LOG_FORMATS, default_log_format()),
            aws_region=get("AWS_REGION") or get("AWS_DEFAULT_REGION"),
            google_api_url=_http_url(
                "IMAGEREPO_GOOGLE_API_URL", get("IMAGEREPO_GOOGLE_API_URL") or GOOGLE_API_URL
            ).rstrip("/"),
            google_location=get("IMAGEREPO_GOOGLE_LOCATION"),
            azure_authority=_http_url(
                "IMAGEREPO_AZURE_AUTHORITY", get("IMAGEREPO_AZURE_AUTHORITY") or AZURE_AUTHORITY
            ).rstrip("/"),
            audit_retention_days=_positive_int(
                "IMAGEREPO_AUDIT_RETENTION_DAYS", get("IMAGEREPO_AUDIT_RETENTION_DAYS"), 400
            ),
        )

    def require_slack_credentials(self) -> tuple[str, str]:
        """The two values `serve` cannot run without, or a message saying where to get them."""
        missing = [
            name
            for name, value in (
                ("SLACK_BOT_TOKEN", self.slack_bot_token),
                ("SLACK_SIGNING_SECRET", self.slack_signing_secret),
            )
            if not value
        ]
        if missing:
            raise SettingsError(
                f"{' and '.join(missing)} not set: create the Slack app from manifest.yml "
                "(api.slack.com/apps > Create New App > From a manifest), install it, then copy "
                "the Bot User OAuth Token (xoxb-...) and the Signing Secret from its pages."
            )
        assert self.slack_bot_token is not None
        assert self.slack_signing_secret is not None
        _check_token_kind(
            "SLACK_BOT_TOKEN",
            self.slack_bot_token,
            BOT_TOKEN_PREFIX,
            "the Bot User OAuth Token (OAuth & Permissions page of the app)",
        )
        if self.slack_app_token is not None:
            _check_token_kind(
                "SLACK_APP_TOKEN",
                self.slack_app_token,
                APP_TOKEN_PREFIX,
                "an App-Level Token with the connections:write scope (Basic Information page)",
            )
        return self.slack_bot_token, self.slack_signing_secret

    @property
    def sqlite_path(self) -> Path | None:
        """The database file when DATABASE_URL is a file-backed SQLite URL, else None."""
        url = make_url(self.database_url)
        if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
            return None
        return Path(url.database)


def default_log_format(stream: object = None) -> str:
    """`text` when a person watches (stderr is a terminal), `json` for a log collector."""
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return "text" if callable(isatty) and isatty() else "json"


_TOKEN_KINDS = {"xoxb-": "a bot token", "xapp-": "an app-level token", "xoxp-": "a user token"}


def _check_token_kind(name: str, value: str, prefix: str, wanted: str) -> None:
    """A token of the wrong kind (an xapp- token as the bot token) fails at start, not at
    the first user's request. The message names the kind found, never the token."""
    if value.startswith(prefix):
        return
    found = next((kind for p, kind in _TOKEN_KINDS.items() if value.startswith(p)), None)
    what = f"is {found} ({value[:5]}...)" if found else f"does not start with {prefix}"
    raise SettingsError(f"{name} {what}: use {wanted}, which starts with {prefix}")


def _host(name: str, value: str | None) -> str:
    """An IP address to bind (IPv4 or IPv6); names are refused so the bind is predictable."""
    if value is None:
        return DEFAULT_HOST
    try:
        return str(ipaddress.ip_address(value.strip("[]")))
    except ValueError:
        raise SettingsError(
            f"{name} must be an IP address to listen on, such as 0.0.0.0 (every interface) "
            f"or 127.0.0.1, not {value!r}"
        ) from None


def _choice(name: str, value: str | None, choices: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value.lower() not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value.lower()


def _validate_database_url(value: str) -> None:
    try:
        url = make_url(value)
    except ArgumentError:
        raise SettingsError(
            "DATABASE_URL is not a database URL: use e.g. sqlite:///./imagerepo.db or "
            "postgresql://user@host:5432/dbname"
        ) from None
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise SettingsError(
            f"DATABASE_URL uses {url.get_backend_name()!r}: "
            "only sqlite and postgresql are supported"
        )


def _split_keys(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _networks(value: str | None) -> tuple[IpNetwork, ...]:
    if not value:
        return ()
    networks: list[IpNetwork] = []
    for part in value.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise SettingsError(
                f"IMAGEREPO_ALLOWED_NETWORKS: {part!r} is not a CIDR such as 10.0.0.0/8"
            ) from None
    return tuple(networks)


_N = TypeVar("_N", int, float)


def _positive(
    name: str, value: str | None, default: _N, parse: Callable[[str], _N], what: str
) -> _N:
    """`value` parsed, finite and above zero; `default` when unset; else a SettingsError."""
    if value is None:
        return default
    try:
        number: _N | None = parse(value)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number) or number <= 0:
        raise SettingsError(f"{name} must be {what}, not {value!r}")
    return number


def _positive_float(name: str, value: str | None, default: float) -> float:
    return _positive(name, value, default, float, "a positive number of seconds")


def _positive_int(name: str, value: str | None, default: int) -> int:
    return _positive(name, value, default, int, "a positive whole number")


def _port(name: str, value: str | None) -> int:
    if value is None:
        return 3000
    if not (value.isascii() and value.isdigit()) or len(value) > 5 or not 0 < int(value) < 65536:
        raise SettingsError(f"{name} must be a TCP port number (1-65535), not {value!r}")
    return int(value)


def _metrics_port(value: str | None, port: int) -> int | None:
    """Unset: /metrics and /healthz share PORT. Set: they move to this port alone."""
    if value is None:
        return None
    metrics_port = _port("METRICS_PORT", value)
    if metrics_port == port:
        raise SettingsError(
            f"METRICS_PORT must differ from PORT ({port}); leave it unset to serve "
            "/metrics and /healthz on PORT"
        )
    return metrics_port


def _http_url(name: str, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise SettingsError(f"{name} must start with http:// or https://, not {value!r}")
    return value
