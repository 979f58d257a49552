"""Per-type behaviour behind `RegistryService`: where a target lives and how to act on it.

Each repository type has a driver; the service picks it by type, so adding a
type never adds an `if` chain to the service or the UI.  This module holds the
shared pieces and the plain Image Registry driver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from registry.auth import TokenCache
from registry.config import RegistryConfig
from registry.errors import ErrorKind, RegistryError, secret_forms
from registry.http import HttpClient, Stats
from registry.kinds import RegistryType, type_info
from registry.oci import OciSession, check_repository_name
from registry.target import Credentials, RepositoryTarget, TlsOptions
from registry.urlguard import RegistryUrl, parse_url


@dataclass
class Operation:
    """One user-visible operation: shared client, its round trips and the secrets it saw."""

    http: HttpClient
    config: RegistryConfig
    tokens: TokenCache
    stats: Stats = field(default_factory=Stats)
    secrets: set[str] = field(default_factory=set)

    def remember(self, credentials: Credentials | None) -> None:
        if credentials is not None:
            self.secrets.update(secret_forms(credentials.secret, credentials.username))

    def session(
        self,
        base: RegistryUrl,
        tls: TlsOptions,
        credentials: Credentials | None,
        label: str = "the registry",
    ) -> OciSession:
        self.remember(credentials)
        return OciSession(
            self.http,
            base,
            tls=tls,
            credentials=credentials,
            tokens=self.tokens,
            stats=self.stats,
            label=label,
            secrets=self.secrets,
        )


@dataclass(frozen=True)
class Location:
    """Where a target's registry API lives, with which TLS options, under which name."""

    base: RegistryUrl
    tls: TlsOptions
    repository: str


class Driver:
    """Default behaviour: an OCI registry; subclasses add what their type can do."""

    type: RegistryType = RegistryType.IMAGE_REGISTRY
    label = "the registry"

    def __init__(self, config: RegistryConfig) -> None:
        self.config = config

    def locate(self, target: RepositoryTarget) -> Location:
        """Check URL and repository name (raises INVALID_URL / INVALID_REPOSITORY)."""
        base = parse_url(target.registry_url)
        return Location(base, target.tls, check_repository_name(target.repository))

    async def reconsider_pull(
        self, op: Operation, target: RepositoryTarget, location: Location, error: RegistryError
    ) -> str | RegistryError:
        """A chance to explain a failed pull check better (e.g. a missing repository)."""
        return error

    async def create(self, op: Operation, target: RepositoryTarget) -> str:
        raise self.unsupported("create repositories")

    async def credential_expiry(
        self, op: Operation, target: RepositoryTarget
    ) -> tuple[bool, datetime | None]:
        """(known, when the target's credential expires); a plain registry never says."""
        return False, None

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        location = self.locate(target)
        session = op.session(location.base, location.tls, target.credentials, self.label)
        await session.delete_repository(location.repository)

    def unsupported(self, what: str) -> RegistryError:
        label = type_info(self.type).label
        return RegistryError(
            ErrorKind.UNSUPPORTED_OPERATION, f"{label} repositories cannot {what} here."
        )


class ImageRegistryDriver(Driver):
    """Any OCI / Docker Registry v2 server that is not a registered tool."""

    type = RegistryType.IMAGE_REGISTRY
