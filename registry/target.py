"""What an operation is aimed at: credentials, TLS options, a registered tool, a repository.

Plain frozen values, so that use cases can build them from the database and
pass them around without anything secret showing up in logs or reprs.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field

from registry.kinds import LEGACY_TOOL_KIND, RegistryType


@dataclass(frozen=True)
class Credentials:
    """A username and a password or access token; the secret never appears in repr/str."""

    username: str
    secret: str = field(repr=False)

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, secret='***')"

    __str__ = __repr__


@dataclass(frozen=True)
class TlsOptions:
    """Per-registry TLS: verify (default on), an extra CA bundle (PEM), or `verify=False`.

    A CA bundle is what people with self-signed registries need; turning
    verification off is the explicit insecure switch, never a default.
    """

    verify: bool = True
    ca_bundle_pem: str | None = field(default=None, repr=False)

    @property
    def insecure(self) -> bool:
        return not self.verify

    def __repr__(self) -> str:
        ca = "none" if not self.ca_bundle_pem else f"{len(self.ca_bundle_pem)} chars"
        return f"TlsOptions(verify={self.verify}, ca_bundle_pem=<{ca}>)"


def validate_ca_bundle(pem: str) -> None:
    """Raise ValueError with a clear message unless `pem` holds at least one PEM certificate.

    Lets a form or the CLI reject a bad bundle before any network traffic.
    """
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ValueError(
            "the CA bundle must contain PEM certificates (-----BEGIN CERTIFICATE-----)"
        )
    context = ssl.create_default_context(cafile=None, capath=None, cadata=None)
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError) as exc:
        raise ValueError(f"the CA bundle is not valid PEM: {exc.__class__.__name__}") from None


@dataclass(frozen=True)
class RegisteredTool:
    """A registered tool: an instance of a `TOOL_TYPES` kind a workspace admin registered
    (its credentials may be an admin's, or an API token: `registry.kinds.ToolKind`)."""

    url: str
    credentials: Credentials | None
    tls: TlsOptions = field(default_factory=TlsOptions)
    kind: RegistryType = LEGACY_TOOL_KIND


@dataclass(frozen=True)
class OriginPins:
    """Where a saved entry's password may go, as `scheme://host[:port]` origins.

    `registry` is the registry API's origin and `realm` the Bearer token
    service's (None for HTTP Basic or an open registry), as the Connection Test
    found them when the entry was saved.  A test of the saved entry refuses
    (ORIGIN_CHANGED) to send the password to any other origin.
    """

    registry: str
    realm: str | None = None


@dataclass(frozen=True)
class RepositoryTarget:
    """One image repository to test, create or delete.

    - `registry_url` is the registry and `repository` a path like `team/app`; the type's
      driver (`Driver.locate`) reads them its way (a hosted type's default URL when it
      is empty, the names its row in `registry.kinds.TYPES` describes).
    - `tool`: the registered tool serving the entry (a driver whose type requires one
      takes the tool's URL and TLS over `registry_url`/`tls`); `credentials` are the
      saved user's, `tool.credentials` the tool's (possibly an admin's, spent only where
      a grant allows it).
    - `pins`: the origins a saved entry was tested against (None: a form's values,
      or an entry saved before pins existed; it gets pinned on its next passing test).
    """

    type: RegistryType
    registry_url: str
    repository: str
    credentials: Credentials | None
    pull_only: bool
    tls: TlsOptions = field(default_factory=TlsOptions)
    tool: RegisteredTool | None = None
    pins: OriginPins | None = None
