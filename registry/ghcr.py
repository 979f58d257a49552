"""GitHub Container Registry: the registry protocol on ghcr.io plus GitHub's REST API.

GHCR takes a classic personal access token as the password; what the token may
do is its scopes (`read:packages` to pull, `write:packages` to push,
`delete:packages` to delete), which the registry does not name when it says
"denied".  GitHub's API does: any authenticated call answers with the token's
scopes in `X-OAuth-Scopes` and, for tokens with an expiry, the date in
`GitHub-Authentication-Token-Expiration`.  So the Connection Test asks
`GET /user` first and fails the step that needs a missing scope, naming it.

GHCR has no manifest DELETE: deleting a repository is deleting the container
package through the packages API (`/user/packages/container/{name}` for the
token's own account, `/orgs/{org}/packages/container/{name}` for an
organisation, `/users/{username}/packages/container/{name}` for another user),
the name URL-encoded (`a/b` -> `a%2Fb`).  Whether an owner is an organisation
or a user is asked of GitHub (`GET /users/{owner}`, `type`), never guessed.
Deleting needs `read:packages` and `delete:packages` (docs.github.com REST,
"Delete a package for the authenticated user/an organization/a user": "need the
read:packages and delete:packages scopes"); `write:packages` carries
`read:packages` (GitHub selects it with write).  A package appears on first
push, so "create new" only proves the account may push there.

GitHub Enterprise Server serves the registry at `containers.HOST` and the API
at `https://HOST/api/v3`: the API of an entry is derived from its registry
host; ghcr.io (and any other host) uses the configured API URL
(`IMAGEREPO_GITHUB_API_URL`, default https://api.github.com).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

from registry.drivers import Account, Driver, Location, Operation
from registry.errors import ErrorKind, RegistryError, refusal
from registry.hostedapi import JsonApi, json_dict, parse_expiry, server_message
from registry.http import confirms_deletion
from registry.kinds import GHCR_REGISTRY_URL, RegistryType
from registry.oci import Ping, namespaced
from registry.target import Credentials, RepositoryTarget, TlsOptions
from registry.urlguard import RegistryUrl, origin_of, parse_url

READ = "read:packages"
WRITE = "write:packages"
DELETE = "delete:packages"
# GitHub grants the narrower package scopes with the wider ones.
_IMPLIED = {READ: {READ, WRITE, DELETE}, WRITE: {WRITE}, DELETE: {DELETE}}
API_VERSION = "2022-11-28"
GHES_REGISTRY_PREFIX = "containers."


def api_base(registry_url: str, configured: str) -> str:
    """The GitHub API for a registry: `https://containers.HOST[:port]` (GitHub Enterprise
    Server with subdomain isolation) -> `https://HOST[:port]/api/v3`; otherwise (ghcr.io)
    the configured API URL."""
    registry = parse_url(registry_url, what="registry URL")
    host = registry.host
    if host.startswith(GHES_REGISTRY_PREFIX) and len(host) > len(GHES_REGISTRY_PREFIX):
        server = dataclasses.replace(registry, host=host[len(GHES_REGISTRY_PREFIX) :], path="")
        return server.endpoint("/api/v3")
    return configured


@dataclass(frozen=True)
class TokenInfo:
    """What GitHub says about a token: its account, its scopes (None: not told), expiry."""

    login: str
    scopes: frozenset[str] | None
    expires_at: datetime | None

    def has(self, scope: str) -> bool:
        return self.scopes is None or bool(self.scopes & _IMPLIED[scope])

    def describe(self) -> str:
        if self.scopes is None:
            return f"GitHub account {self.login} (GitHub did not list the token's scopes)"
        shown = ", ".join(sorted(self.scopes)) or "none"
        return f"GitHub account {self.login}, token scopes: {shown}"


def lacks(scope: str, purpose: str) -> str:
    return (
        f"The token lacks the {scope} scope: GitHub Container Registry needs a classic "
        f"personal access token with {scope} to {purpose}."
    )


def split_owner(repository: str) -> tuple[str, str]:
    """`owner/name[/more]` -> (`owner`, `name[/more]`), validated."""
    clean = namespaced(
        repository, "GitHub Container Registry images are named owner/name; {name} has no owner."
    )
    owner, name = clean.split("/", 1)
    return owner, name


class GitHubApi:
    """The few GitHub REST calls GHCR needs, as one token."""

    def __init__(
        self, op: Operation, credentials: Credentials, location: Location | None = None
    ) -> None:
        configured = op.config.github_api_url
        url = api_base(location.base.base, configured) if location is not None else configured
        base: RegistryUrl = parse_url(url, what="GitHub API URL")
        # a GHES API sits on the registry's own host: trust what the entry trusts there
        tls = location.tls if location is not None and url != configured else TlsOptions()
        self.api = JsonApi(
            op,
            base,
            tls,
            name="GitHub",
            auth_headers={"Authorization": f"Bearer {credentials.secret}"},
            secret=credentials.secret,
            extra_headers={
                "Accept": "application/vnd.github+json",
                "X-GitHub-Api-Version": API_VERSION,
            },
        )
        self.credentials = credentials
        self._kinds: dict[str, str | None] = {}

    async def token_info(self) -> TokenInfo | None:
        """`GET /user`: the token's login, scopes and expiry; None when GitHub will not say
        (a GITHUB_TOKEN or app token answers 403 to `/user`)."""
        response = await self.api.request("GET", "/user")
        if response.status == 401:
            raise RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                f"GitHub rejected the token given for {self.credentials.username} (Bad "
                "credentials): it is wrong, expired or revoked.",
            )
        if response.status == 403:
            return None
        if response.status != 200:
            raise self.api.error(response, "describe the token (GET /user)")
        login = json_dict(response).get("login")
        header = response.headers.get("x-oauth-scopes")
        scopes = (
            None if header is None else frozenset(s.strip() for s in header.split(",") if s.strip())
        )
        return TokenInfo(
            login=login if isinstance(login, str) else self.credentials.username,
            scopes=scopes,
            expires_at=parse_expiry(response.headers.get("github-authentication-token-expiration")),
        )

    async def owner_kind(self, owner: str) -> str | None:
        """`Organization` or `User` as GitHub says (`GET /users/{owner}`, `type`); None when
        GitHub knows no such account (404) or will not say."""
        key = owner.lower()
        if key not in self._kinds:
            response = await self.api.request("GET", f"/users/{quote(owner, safe='')}")
            kind = json_dict(response).get("type") if response.status == 200 else None
            self._kinds[key] = kind if isinstance(kind, str) else None
        return self._kinds[key]

    async def _package_path(self, owner: str, name: str, login: str | None) -> str:
        encoded = quote(name, safe="")
        if login is not None and owner.lower() == login.lower():
            return f"/user/packages/container/{encoded}"
        if await self.owner_kind(owner) == "User":
            return f"/users/{quote(owner, safe='')}/packages/container/{encoded}"
        return f"/orgs/{quote(owner, safe='')}/packages/container/{encoded}"

    async def package_exists(self, owner: str, name: str, login: str | None) -> bool | None:
        """True/False when GitHub says; None when it cannot tell (e.g. owner is another user)."""
        response = await self.api.request("GET", await self._package_path(owner, name, login))
        if response.status == 200:
            return True
        if response.status == 404:
            return False
        return None

    async def delete_package(self, owner: str, name: str, login: str | None) -> None:
        response = await self.api.request("DELETE", await self._package_path(owner, name, login))
        if confirms_deletion(response):
            return
        refused = f"GitHub refused to delete the container package {owner}/{name}"
        raise refusal(
            response.status,
            {
                404: (
                    ErrorKind.REPOSITORY_NOT_FOUND,
                    f"GitHub has no container package {name} owned by {owner} that this token "
                    "can see; nothing was deleted.",
                ),
                403: (
                    ErrorKind.PERMISSION_DENIED,
                    f"{refused}{server_message(response)}: the token's account must be an "
                    "admin of the package, and the token needs read:packages and "
                    "delete:packages.",
                ),
                400: (
                    ErrorKind.PERMISSION_DENIED,
                    f"{refused}{server_message(response)}; nothing was deleted.",
                ),
            },
        ) or self.api.error(response, f"delete the container package {owner}/{name}")


class GhcrDriver(Driver):
    type = RegistryType.GHCR
    label = "GitHub Container Registry"

    def provider_origins(self) -> frozenset[str]:
        """GitHub's API (token scopes, packages)."""
        return frozenset({origin_of(self.config.github_api_url)})

    def locate(self, target: RepositoryTarget) -> Location:
        owner, name = split_owner(target.repository.strip().lower().removeprefix("ghcr.io/"))
        return self.hosted(target, GHCR_REGISTRY_URL, f"{owner}/{name}")

    async def account(
        self, op: Operation, target: RepositoryTarget, location: Location, ping: Ping
    ) -> Account | None:
        if target.credentials is None:
            return None
        info = await GitHubApi(op, target.credentials, location).token_info()
        if info is None:
            return Account(
                "GitHub's API did not describe this token (not a classic personal access "
                "token?): its scopes were not checked"
            )
        missing: dict[str, str] = {}
        if not info.has(READ):
            missing["pull"] = lacks(READ, "pull")
        if not info.has(WRITE):
            missing["push"] = lacks(WRITE, "push")
        detail = info.describe()
        if info.scopes is not None and not info.has(DELETE):
            detail += f" (delete in IR needs {DELETE})"
        return Account(detail, expires_at=info.expires_at, missing=missing)

    async def reconsider_pull(
        self, op: Operation, target: RepositoryTarget, location: Location, error: RegistryError
    ) -> str | RegistryError:
        """GHCR says "denied" for packages that do not exist: ask the packages API."""
        if target.credentials is None or error.kind not in (
            ErrorKind.PERMISSION_DENIED,
            ErrorKind.AUTHENTICATION_FAILED,
            ErrorKind.REPOSITORY_NOT_FOUND,
        ):
            return error
        owner, name = location.repository.split("/", 1)
        api = GitHubApi(op, target.credentials, location)
        try:
            info = await api.token_info()
            exists = await api.package_exists(owner, name, info.login if info else None)
        except RegistryError:
            return error
        if exists is not False:
            return error
        if target.pull_only:
            return RegistryError(
                ErrorKind.REPOSITORY_NOT_FOUND,
                f"GitHub has no container package {name} owned by {owner} that this token can see.",
            )
        return f"package {location.repository} does not exist yet: GitHub creates it on first push"

    async def create(self, op: Operation, target: RepositoryTarget) -> str:
        location = self.locate(target)
        return (
            f"GitHub creates the package {location.repository} on first push; the Connection "
            "Test checks that this account may push there."
        )

    def delete_blocker(self, target: RepositoryTarget) -> str | None:
        if target.credentials is None:
            return (
                "Deleting on GitHub needs a classic personal access token with "
                f"{DELETE}; this entry has no account."
            )
        return None

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        if blocker := self.delete_blocker(target):
            raise RegistryError(ErrorKind.PERMISSION_DENIED, blocker)
        assert target.credentials is not None
        location = self.locate(target)
        owner, name = location.repository.split("/", 1)
        api = GitHubApi(op, target.credentials, location)
        info = await api.token_info()
        if info is not None and info.scopes is not None:
            # GitHub's delete endpoints need read:packages AND delete:packages
            for needed, held in ((READ, {READ, WRITE}), (DELETE, {DELETE})):
                if not info.scopes & held:
                    raise RegistryError(
                        ErrorKind.PERMISSION_DENIED,
                        lacks(needed, "delete packages (GitHub needs read:packages and "
                              "delete:packages)") + " Nothing was deleted.",
                    )  # fmt: skip
        await api.delete_package(owner, name, info.login if info else None)
