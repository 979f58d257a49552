"""The Connection Test as a sequence of steps: reachable, authenticated, pull, push.

Each step proves one thing with as few round trips as the protocol allows:
ping `/v2/` (reachable), a token from the realm (authenticated; for HTTP Basic
the first authorised request is the proof), a one-entry tags list (pull), and
a blob upload that is started and cancelled (push).  The first failure stops
the test; `current` tells which step it was, even when a timeout interrupts.
"""

from __future__ import annotations

from registry.drivers import Account, Driver, Location, Operation, check_registry_pin
from registry.errors import ErrorKind, RegistryError
from registry.oci import Grant, OciSession, Ping
from registry.results import (
    STEP_AUTHENTICATED,
    STEP_PULL,
    STEP_PUSH,
    STEP_REACHABLE,
    CheckStep,
    PullQuota,
)
from registry.target import RepositoryTarget
from registry.urlguard import origin_of


def describe_scheme(ping: Ping) -> str:
    if ping.scheme == "bearer":
        return f"Bearer tokens from {ping.realm}"
    if ping.scheme == "basic":
        return "HTTP Basic"
    return "no authentication"


def step_names(pull_only: bool) -> tuple[str, ...]:
    base = (STEP_REACHABLE, STEP_AUTHENTICATED, STEP_PULL)
    return base if pull_only else (*base, STEP_PUSH)


class ConnectionTest:
    """Runs the steps for one target, recording each passed step in `steps`."""

    def __init__(self, op: Operation, driver: Driver, target: RepositoryTarget) -> None:
        self.op = op
        self.driver = driver
        self.target = target
        self.steps: list[CheckStep] = []
        self.current = STEP_REACHABLE
        self.auth_scheme: str | None = None
        self.location: Location | None = None
        self.registry_origin: str | None = None
        self.realm_origin: str | None = None
        self.account: Account | None = None
        # What the driver added to the passed pull step (Docker Hub: the pulls left).
        self.pull_note: str | None = None
        self.pull_quota: PullQuota | None = None

    def _passed(self, name: str, detail: str) -> None:
        self.steps.append(CheckStep(name, True, detail))

    def _auth_detail(self, ping: Ping, grant: Grant) -> str:
        detail = self._scheme_detail(ping, grant)
        for minted in self.op.minted:
            detail += f"; {minted.how}, expires {minted.describe_expiry()}"
        return detail

    def _scheme_detail(self, ping: Ping, grant: Grant) -> str:
        credentials = self.target.credentials
        if ping.scheme == "none":
            if credentials is not None:
                return "the registry asks for no credentials (the username was not used)"
            return "no credentials needed"
        if ping.scheme == "basic":
            assert credentials is not None
            if self.op.minted:
                user = self.op.minted[-1].credentials.username
                return f"minted password accepted for {user} (HTTP Basic)"
            return f"username and password accepted for {credentials.username} (HTTP Basic)"
        return grant.detail

    def _with_account(self, detail: str) -> str:
        if self.account is None or not self.account.detail:
            return detail
        return f"{detail}; {self.account.detail}"

    def _require(self, step: str) -> None:
        """Fail `step` with the registry API's reason (e.g. a missing token scope)."""
        if self.account is not None and step in self.account.missing:
            raise RegistryError(ErrorKind.PERMISSION_DENIED, self.account.missing[step])

    async def run(self) -> None:
        """Raise the first step's RegistryError; `current` names that step."""
        try:
            await self._run()
        except RegistryError as error:
            raise self.driver.explain(self.current, error) from None

    async def _run(self) -> None:
        target = self.target
        try:
            location = self.driver.locate(target)
        except RegistryError as exc:
            if exc.kind is ErrorKind.INVALID_REPOSITORY:
                self.current = STEP_PULL
            raise
        self.location = location
        self.registry_origin = origin_of(location.base)
        check_registry_pin(target, location.base)
        session = self.op.session(
            location.base, location.tls, target.credentials, self.driver.label, pins=target.pins
        )
        try:
            await self._steps(session, location)
        finally:
            self.realm_origin = session.realm_origin

    async def _pull_note(
        self, session: OciSession, location: Location, grant: Grant, detail: str
    ) -> str:
        """The pull step's line with what the driver adds (e.g. Docker Hub's pulls left)."""
        try:
            note = await self.driver.pull_note(self.op, session, location, grant)
        except RegistryError:
            return detail  # extra information only: never fails the test
        if isinstance(note, PullQuota):
            self.pull_quota = note
            note = note.describe()
        self.pull_note = note
        return f"{detail}; {note}" if note else detail

    async def _steps(self, session: OciSession, location: Location) -> None:
        target = self.target
        ping = await session.ping()
        self.auth_scheme = ping.scheme
        self._passed(
            STEP_REACHABLE, f"registry API v2 at {location.base.base} ({describe_scheme(ping)})"
        )

        self.current = STEP_AUTHENTICATED
        credentials = await self.driver.registry_credentials(self.op, target)
        if credentials is not target.credentials:
            self.op.remember(credentials)
            session.credentials = credentials
        account = await self.driver.account(self.op, target, location, ping)
        self.account = account
        actions = ("pull",) if target.pull_only else ("pull", "push")
        grant = await session.authorize(location.repository, actions)
        basic_pending = ping.scheme == "basic"
        if not basic_pending:
            self._passed(STEP_AUTHENTICATED, self._with_account(self._auth_detail(ping, grant)))
            self.current = STEP_PULL
            self._require(STEP_PULL)

        try:
            detail = await session.check_pull(location.repository, grant)
            detail = await self._pull_note(session, location, grant, detail)
        except RegistryError as error:
            if basic_pending and error.kind is ErrorKind.AUTHENTICATION_FAILED:
                raise
            if basic_pending:
                self._passed(STEP_AUTHENTICATED, self._with_account(self._auth_detail(ping, grant)))
                basic_pending = False
            self.current = STEP_PULL
            self._require(STEP_PULL)
            outcome = await self.driver.reconsider_pull(self.op, target, location, error)
            if isinstance(outcome, RegistryError):
                raise outcome from None
            detail = outcome
        if basic_pending:
            self._passed(STEP_AUTHENTICATED, self._with_account(self._auth_detail(ping, grant)))
        self.current = STEP_PULL
        self._require(STEP_PULL)
        self._passed(STEP_PULL, detail)
        if target.pull_only:
            return
        self.current = STEP_PUSH
        self._require(STEP_PUSH)
        self._passed(STEP_PUSH, await session.check_push(location.repository, grant))
