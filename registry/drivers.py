"""Per-type behaviour behind `RegistryService`: where a target lives and how to act on it.

Each repository type has a driver; the service picks it by type, so adding a
type never adds an `if` chain to the service or the UI.  This module holds the
shared pieces and the plain Image Registry driver.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import ClassVar

from registry.auth import TokenCache
from registry.config import RegistryConfig
from registry.errors import ErrorKind, RegistryError, secret_forms
from registry.http import HttpClient, Stats
from registry.kinds import RegistryType, type_info
from registry.minting import MintCache, Minted
from registry.oci import Grant, OciSession, Ping, check_repository_name
from registry.outbound import OutboundRule
from registry.results import STEP_AUTHENTICATED, STEP_REACHABLE, CheckStep, PullQuota
from registry.target import Credentials, OriginPins, RegisteredTool, RepositoryTarget, TlsOptions
from registry.urlguard import RegistryUrl, origin_of, parse_url


@dataclass
class Operation:
    """One user-visible operation: shared client, its round trips and the secrets it saw.

    `http` is the service's client bound to this operation's outbound rule
    (`rule`, see `registry/outbound.py`): whatever a driver sends through it,
    a bound credential reaches only the origins it was bound to.
    """

    http: HttpClient
    config: RegistryConfig
    tokens: TokenCache
    stats: Stats = field(default_factory=Stats)
    secrets: set[str] = field(default_factory=set)
    minted: list[Minted] = field(default_factory=list)
    rule: OutboundRule = field(init=False)
    # Where the saved entry's credentials may go (None: anywhere); minted ones inherit it.
    credential_origins: frozenset[str] | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.rule = OutboundRule(self.secrets)
        self.http = self.http.for_operation(self.rule)

    def remember(self, credentials: Credentials | None) -> None:
        if credentials is not None:
            self.secrets.update(secret_forms(credentials.secret, credentials.username))

    def bind_target(self, target: RepositoryTarget, provider_origins: frozenset[str]) -> None:
        """The outbound rule for `target`: a pinned entry's account may go only to its pins
        and the provider endpoints of the bot's configuration (`provider_origins`); a
        registered tool's account only to the tool's URL (and the entry's pins)."""
        pins = target.pins
        if pins is not None:
            self.credential_origins = (
                frozenset(o for o in (pins.registry, pins.realm) if o) | provider_origins
            )
            self.remember(target.credentials)
            self.rule.bind(target.credentials, self.credential_origins)
        if target.tool is not None:
            self.bind_tool(target.tool, self.credential_origins or frozenset())

    def bind_tool(self, tool: RegisteredTool, also: frozenset[str] = frozenset()) -> None:
        """A registered tool's account goes only to the tool's URL (its secret is entered
        again whenever that URL changes)."""
        if tool.credentials is None:
            return
        self.remember(tool.credentials)
        self.rule.bind(
            tool.credentials,
            {tool_origin(tool), *also},
            what="The registered tool's credential",
            advice="A workspace admin can check the tool's URL in /imagerepo tools.",
        )

    def use_minted(self, minted: Minted) -> Credentials:
        """A minted credential: its secret kept out of every error, the mint recorded, and
        bound to the origins of the credential it was minted from."""
        self.remember(minted.credentials)
        self.rule.bind(minted.credentials, self.credential_origins)
        self.minted.append(minted)
        return minted.credentials

    def session(
        self,
        base: RegistryUrl,
        tls: TlsOptions,
        credentials: Credentials | None,
        label: str = "the registry",
        pins: OriginPins | None = None,
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
            pins=pins,
        )


def tool_origin(tool: RegisteredTool) -> str:
    """The origin of a tool's URL (the URL as typed when it does not parse)."""
    try:
        return origin_of(parse_url(tool.url, what="tool URL"))
    except RegistryError:
        return origin_of(tool.url)


def check_registry_pin(target: RepositoryTarget, base: RegistryUrl) -> None:
    """Refuse to send a saved password to a registry origin other than the pinned one
    (a registered tool's URL was edited, or a configured registry URL setting changed)."""
    pins = target.pins
    if pins is None or target.credentials is None:
        return
    origin = origin_of(base)
    if origin != pins.registry:
        raise RegistryError(
            ErrorKind.ORIGIN_CHANGED,
            f"This entry was saved for the registry at {pins.registry}, but it now points to "
            f"{origin}; the saved password is not sent to a new origin. Enter the password "
            "again (Change account) to use it there.",
        )


@dataclass(frozen=True)
class Location:
    """Where a target's registry API lives, with which TLS options, under which name."""

    base: RegistryUrl
    tls: TlsOptions
    repository: str


@dataclass(frozen=True)
class Account:
    """What a registry's own API says about the saved account, before the registry checks.

    `missing` maps a step (`pull`, `push`) to the message that step fails with
    (e.g. a token scope the account lacks), so the test names the scope rather
    than a bare "denied"; `detail` joins the `authenticated` step's line.
    """

    detail: str
    expires_at: datetime | None = None
    missing: dict[str, str] = field(default_factory=dict)


class ToolCheckBase:
    """Testing a registered tool: the steps passed so far, and the step under way (the one
    a raised RegistryError belongs to). Subclasses write `run`."""

    def __init__(self, op: Operation, tool: RegisteredTool) -> None:
        self.op = op
        self.tool = tool
        self.steps: list[CheckStep] = []
        self.current = STEP_REACHABLE

    async def run(self) -> None:
        raise NotImplementedError

    def passed(self, step: str, detail: str) -> None:
        """Record a passed step; the next one (authentication) is then under way."""
        self.steps.append(CheckStep(step, True, detail))
        if step == STEP_REACHABLE:
            self.current = STEP_AUTHENTICATED


class Driver:
    """Default behaviour: an OCI registry; subclasses add what their type can do."""

    type: RegistryType = RegistryType.IMAGE_REGISTRY
    label = "the registry"
    # What the identity needs for a step (`pull`, `push`), in the provider's words: added to
    # the error when the registry refuses that step (`explain`).
    step_needs: ClassVar[Mapping[str, str]] = {}

    def __init__(self, config: RegistryConfig) -> None:
        self.config = config

    def locate(self, target: RepositoryTarget) -> Location:
        """Check URL and repository name (raises INVALID_URL / INVALID_REPOSITORY)."""
        base = parse_url(target.registry_url)
        return Location(base, target.tls, check_repository_name(target.repository))

    @staticmethod
    def hosted(target: RepositoryTarget, default_url: str, repository: str) -> Location:
        """A hosted registry's place: the entry's URL when it names one, else the provider's."""
        return Location(
            parse_url(target.registry_url.strip() or default_url), target.tls, repository
        )

    def provider_origins(self) -> frozenset[str]:
        """Origins of provider endpoints the bot's configuration names, where a saved account
        of this type goes besides its registry and realm (a hosted API, an identity
        provider); a pinned entry's credentials may go to these and its pins only. None
        by default; a driver whose type has such endpoints names them."""
        return frozenset()

    def located(self, target: RepositoryTarget) -> Location:
        """`locate`, then refuse a registry origin other than the saved entry's pin."""
        location = self.locate(target)
        check_registry_pin(target, location.base)
        return location

    async def account(
        self, op: Operation, target: RepositoryTarget, location: Location, ping: Ping
    ) -> Account | None:
        """Ask the registry's API about the account (scopes, expiry); None when it has none."""
        return None

    def delete_blocker(self, target: RepositoryTarget) -> str | None:
        """Why the saved account cannot delete in the registry, known without asking it."""
        return None

    async def registry_credentials(
        self, op: Operation, target: RepositoryTarget
    ) -> Credentials | None:
        """What the registry itself takes: the stored credentials, or (cloud types) ones
        minted from them; a minted credential is recorded in `op.minted`."""
        return target.credentials

    def explain(self, step: str, error: RegistryError) -> RegistryError:
        """A refused step's error with what the identity lacks for it (`step_needs`, e.g. the
        missing role); any other error unchanged."""
        if error.kind is not ErrorKind.PERMISSION_DENIED or step not in self.step_needs:
            return error
        return RegistryError(error.kind, f"{error.message} {self.step_needs[step]}")

    async def reconsider_pull(
        self, op: Operation, target: RepositoryTarget, location: Location, error: RegistryError
    ) -> str | RegistryError:
        """A chance to explain a failed pull check better (e.g. a missing repository)."""
        return error

    async def pull_note(
        self, op: Operation, session: OciSession, location: Location, grant: Grant
    ) -> str | PullQuota | None:
        """More for the passed pull step's line: a note, or the account's pull allowance
        (a `PullQuota`), which also goes into the result; None: nothing.  Asked only after
        the pull check passed; a failure here never fails the test."""
        return None

    async def create(self, op: Operation, target: RepositoryTarget) -> str:
        raise self.unsupported("create repositories")

    async def namespaces(self, op: Operation, tool: RegisteredTool, query: str) -> list[str]:
        """The namespaces a registered tool's account sees, matching `query` (at most 100),
        for a kind with a namespace picker (`ToolKind.namespace_picker`)."""
        raise self.unsupported("list namespaces")

    async def repositories(self, op: Operation, tool: RegisteredTool, namespace: str) -> list[str]:
        """Repository names (`namespace/name`) in one of the tool's namespaces (at most 100)."""
        raise self.unsupported("list repositories")

    async def credential_expiry(
        self, op: Operation, target: RepositoryTarget
    ) -> tuple[bool, datetime | None]:
        """(known, when the target's credential expires); a plain registry never says."""
        return False, None

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        if blocker := self.delete_blocker(target):
            raise RegistryError(ErrorKind.PERMISSION_DENIED, blocker)
        location = self.located(target)
        credentials = await self.registry_credentials(op, target)
        session = op.session(location.base, location.tls, credentials, self.label, pins=target.pins)
        await session.delete_repository(location.repository)

    def unsupported(self, what: str) -> RegistryError:
        label = type_info(self.type).label
        return RegistryError(
            ErrorKind.UNSUPPORTED_OPERATION, f"{label} repositories cannot {what} here."
        )


class MintingDriver(Driver):
    """A cloud type: the registry's password is minted from the stored key, and the
    mints are cached in `minting` (shared by every operation of the service)."""

    def __init__(self, config: RegistryConfig, minting: MintCache) -> None:
        super().__init__(config)
        self.minting = minting


class ImageRegistryDriver(Driver):
    """Any OCI / Docker Registry v2 server that is not a registered tool."""

    type = RegistryType.IMAGE_REGISTRY
