"""GitLab Container Registry: the registry protocol plus GitLab's REST API (v4).

GitLab's registry hands out tokens from the GitLab host (`https://gitlab.com/jwt/auth`),
not from the registry host, so the GitLab API is found from the token realm the
registry names at `/v2/` (`…/jwt/auth` -> `…/api/v4`); that also works for
self-managed instances on their own hosts and ports.

Accounts: personal, project and group access tokens describe themselves at
`GET /personal_access_tokens/self` (`scopes`, `expires_at`); deploy tokens
(`gitlab+deploy-token-N`) and CI job tokens cannot call the API at all, so for
them only the registry speaks.  Pulling needs `read_registry` or `read_api`
(gitlabhq `lib/gitlab/auth.rb`, `abilities_for_scopes`: `read_api` maps to
`read_only_authentication_abilities`, which include `read_container_image`),
pushing `write_registry` (`api` covers both), deleting in IR needs `api` and the
Maintainer role: `DELETE /projects/:id/registry/repositories/:repository_id`,
the id found with `GET /projects/:id/registry/repositories`, which is paginated
(at most 100 a page; every page is read, following `X-Next-Page` or `Link`).  A registry
repository appears on first push into an existing GitLab project, so "create
new" checks that project exists and that the token may push there.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

from registry.drivers import Account, Driver, Location, Operation, ToolCheckBase
from registry.errors import ErrorKind, RegistryError, refusal
from registry.hostedapi import JsonApi, json_dict, json_list, parse_expiry
from registry.http import confirms_deletion
from registry.kinds import GITLAB_REGISTRY_URL, RegistryType
from registry.oci import Ping, namespaced
from registry.results import STEP_AUTHENTICATED, STEP_REACHABLE
from registry.target import Credentials, RepositoryTarget
from registry.urlguard import RegistryUrl, parse_url

API = "/api/v4"
DEPLOY_TOKEN_PREFIX = "gitlab+deploy-token-"
DEVELOPER = 30  # GitLab access levels: Developer may push, Maintainer (40) may delete
MAINTAINER = 40
# gitlabhq lib/gitlab/auth.rb `abilities_for_scopes`: read_api -> read_container_image too
_PULL = {"read_registry", "read_api", "api"}
_PER_PAGE = 100  # GitLab's pagination cap (doc/api/rest/_index.md, "Pagination")
_MAX_PAGES = 200  # 20,000 registry repositories in one project is beyond any real one
_PUSH = {"write_registry", "api"}


def is_deploy_token(credentials: Credentials | None) -> bool:
    return credentials is not None and credentials.username.startswith(DEPLOY_TOKEN_PREFIX)


def lacks(scope: str, purpose: str) -> str:
    return f"The token lacks the {scope} scope, which GitLab needs to {purpose}."


def api_base(location: Location, ping: Ping) -> RegistryUrl:
    """GitLab's host from the registry's token realm (`https://gitlab.example.com/jwt/auth`)."""
    realm = ping.realm
    if realm and "/jwt/auth" in realm:
        return parse_url(realm.split("/jwt/auth", 1)[0], what="GitLab URL")
    return location.base


def project_candidates(repository: str) -> list[str]:
    """`group/sub/project/image` -> the project paths it may belong to, longest first."""
    parts = repository.split("/")
    return ["/".join(parts[:n]) for n in range(len(parts), 1, -1)]


def next_page(x_next_page: str | None, link: str | None) -> list[tuple[str, str]] | None:
    """The query of the next page: from `X-Next-Page` (a number, empty on the last page),
    else from the `Link` header's `rel="next"` URL; None when there is no next page."""
    if x_next_page is not None and x_next_page.strip().isdigit():
        return [("per_page", str(_PER_PAGE)), ("page", x_next_page.strip())]
    for part in (link or "").split(","):
        url, _, rest = part.partition(";")
        if 'rel="next"' in rest.replace(" ", ""):
            query = parse_qsl(urlsplit(url.strip().strip("<>")).query)
            return query or None
    return None


def access_level(project: dict[str, Any]) -> int:
    permissions = project.get("permissions")
    if not isinstance(permissions, dict):
        return 0
    levels = [0]
    for key in ("project_access", "group_access"):
        entry = permissions.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("access_level"), int):
            levels.append(entry["access_level"])
    return max(levels)


class GitLabApi:
    """GitLab REST API v4 as one token (`PRIVATE-TOKEN`)."""

    def __init__(self, op: Operation, base: RegistryUrl, location: Location, secret: str) -> None:
        self.api = JsonApi(
            op,
            base,
            location.tls,
            name="GitLab",
            auth_headers={"PRIVATE-TOKEN": secret},
            secret=secret,
        )

    async def token_self(self) -> dict[str, Any] | None:
        """The token's own description, or None when GitLab will not describe it (401/403:
        a deploy token, a job token, or a wrong token)."""
        response = await self.api.request("GET", f"{API}/personal_access_tokens/self")
        if response.status in (401, 403):
            return None
        if response.status != 200:
            raise self.api.error(response, "describe the token")
        return json_dict(response)

    async def project(self, path: str) -> dict[str, Any] | None:
        response = await self.api.request("GET", f"{API}/projects/{quote(path, safe='')}")
        if response.status == 200:
            return json_dict(response)
        if response.status == 404:
            return None
        raise self.api.error(response, f"look up project {path}")

    async def find_project(self, repository: str) -> dict[str, Any] | None:
        for path in project_candidates(repository):
            found = await self.project(path)
            if found is not None:
                return found
        return None

    async def find_registry_repository(self, project_id: int, path: str) -> dict[str, Any] | None:
        """The project's registry repository named `path`, reading page after page.

        The list is paginated (`per_page` at most 100); the next page is named by
        `X-Next-Page` (offset pagination) or, where GitLab omits it, the `Link`
        header's `rel="next"` (keyset pagination).
        """
        params: list[tuple[str, str]] = [("per_page", str(_PER_PAGE)), ("page", "1")]
        for _ in range(_MAX_PAGES):
            response = await self.api.request(
                "GET", f"{API}/projects/{project_id}/registry/repositories", params=params
            )
            if response.status != 200:
                raise self.api.error(response, "list the project's registry repositories")
            for entry in json_list(response):
                if entry.get("path") == path and isinstance(entry.get("id"), int):
                    return entry
            following = next_page(response.headers.get("x-next-page"), response.headers.get("link"))
            if following is None:
                return None
            params = following
        raise RegistryError(
            ErrorKind.UNSUPPORTED_OPERATION,
            f"GitLab lists more than {_MAX_PAGES * _PER_PAGE} registry repositories in the "
            f"project; {path} was not among them, so nothing was deleted.",
        )

    async def delete_registry_repository(self, project_id: int, repository_id: int) -> None:
        response = await self.api.request(
            "DELETE", f"{API}/projects/{project_id}/registry/repositories/{repository_id}"
        )
        if confirms_deletion(response):
            return
        denied = (
            "GitLab refused to delete the registry repository: the token needs the api scope "
            "and the Maintainer role in the project; nothing was deleted."
        )
        raise refusal(response.status, {403: (ErrorKind.PERMISSION_DENIED, denied)}) or (
            self.api.error(response, "delete the registry repository")
        )


class GitLabDriver(Driver):
    type = RegistryType.GITLAB
    label = "GitLab's container registry"

    def locate(self, target: RepositoryTarget) -> Location:
        repository = namespaced(
            target.repository,
            "GitLab images are named group/project[/image]; {name} has no group.",
        )
        return self.hosted(target, GITLAB_REGISTRY_URL, repository)

    async def _api(
        self, op: Operation, target: RepositoryTarget, location: Location, ping: Ping | None = None
    ) -> GitLabApi | None:
        tool = target.tool
        if tool is not None and tool.kind is RegistryType.GITLAB and tool.credentials:
            # a registered GitLab: its URL is the GitLab host, its token an admin's
            base = parse_url(tool.url, what="GitLab URL")
            return GitLabApi(op, base, Location(base, tool.tls, ""), tool.credentials.secret)
        credentials = target.credentials
        if credentials is None or is_deploy_token(credentials):
            return None
        if ping is None:
            ping = await op.session(location.base, location.tls, None, self.label).ping()
        return GitLabApi(op, api_base(location, ping), location, credentials.secret)

    async def _user_api(
        self, op: Operation, target: RepositoryTarget, location: Location, ping: Ping
    ) -> GitLabApi | None:
        """The saved account's own API access (never the tool's), for describing it."""
        credentials = target.credentials
        if credentials is None or is_deploy_token(credentials):
            return None
        return GitLabApi(op, api_base(location, ping), location, credentials.secret)

    async def account(
        self, op: Operation, target: RepositoryTarget, location: Location, ping: Ping
    ) -> Account | None:
        if target.credentials is None:
            return None
        if is_deploy_token(target.credentials):
            return Account(
                "a GitLab deploy token: GitLab's API does not describe deploy tokens, so the "
                "registry checks its read_registry/write_registry scopes (it cannot delete in IR)"
            )
        api = await self._user_api(op, target, location, ping)
        assert api is not None
        info = await api.token_self()
        if info is None:
            return Account(
                "GitLab's API did not accept the token (a deploy or CI job token?); the "
                "registry checks it"
            )
        if info.get("revoked") or info.get("active") is False:
            raise RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                f"GitLab says the token {info.get('name') or ''} is "
                f"{'revoked' if info.get('revoked') else 'no longer active (expired)'}.",
            )
        raw = info.get("scopes")
        scopes = {s for s in raw if isinstance(s, str)} if isinstance(raw, list) else set()
        missing: dict[str, str] = {}
        if not scopes & _PULL:
            missing["pull"] = lacks("read_registry (or read_api)", "pull images")
        if not scopes & _PUSH:
            missing["push"] = lacks("write_registry", "push images")
        expires = parse_expiry(info.get("expires_at"))
        detail = f"GitLab token scopes: {', '.join(sorted(scopes)) or 'none'}"
        if expires is not None:
            detail += f", expires {expires.date().isoformat()}"
        if "api" not in scopes:
            detail += " (delete in IR needs api)"
        return Account(detail, expires_at=expires, missing=missing)

    async def reconsider_pull(
        self, op: Operation, target: RepositoryTarget, location: Location, error: RegistryError
    ) -> str | RegistryError:
        """Denied or unknown may mean "no such project": ask GitLab's API."""
        if error.kind not in (
            ErrorKind.PERMISSION_DENIED,
            ErrorKind.AUTHENTICATION_FAILED,
            ErrorKind.REPOSITORY_NOT_FOUND,
        ):
            return error
        try:
            api = await self._api(op, target, location)
            project = await api.find_project(location.repository) if api else None
        except RegistryError:
            return error
        if api is None:
            return error
        if project is None:
            return RegistryError(
                ErrorKind.REPOSITORY_NOT_FOUND,
                f"GitLab has no project for {location.repository} that this token can see.",
            )
        if target.pull_only or error.kind is not ErrorKind.REPOSITORY_NOT_FOUND:
            return error
        path = project.get("path_with_namespace") or "the project"
        return f"project {path} exists; {location.repository} appears on first push"

    async def create(self, op: Operation, target: RepositoryTarget) -> str:
        location = self.locate(target)
        api = await self._api(op, target, location)
        if api is None:
            raise RegistryError(
                ErrorKind.UNSUPPORTED_OPERATION,
                "Creating needs a GitLab personal, project or group access token (a deploy "
                "token cannot use GitLab's API).",
            )
        project = await api.find_project(location.repository)
        if project is None:
            raise RegistryError(
                ErrorKind.REPOSITORY_NOT_FOUND,
                f"GitLab has no project for {location.repository} that this token can see; "
                "create the project in GitLab first.",
            )
        path = project.get("path_with_namespace") or location.repository
        if access_level(project) < DEVELOPER:
            raise RegistryError(
                ErrorKind.PERMISSION_DENIED,
                f"The token's account may not push to GitLab project {path}: it needs at least "
                "the Developer role.",
            )
        return f"GitLab project {path} exists; {location.repository} appears on first push."

    def delete_blocker(self, target: RepositoryTarget) -> str | None:
        tool = target.tool
        if tool is not None and tool.kind is RegistryType.GITLAB and tool.credentials:
            return None  # the registered GitLab's token deletes
        if target.credentials is None:
            return "Deleting on GitLab needs an access token with the api scope; none is saved."
        if is_deploy_token(target.credentials):
            return (
                "A GitLab deploy token cannot use GitLab's API, so it cannot delete registry "
                "repositories; change the account to a personal, project or group access "
                "token with the api scope."
            )
        return None

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        if blocker := self.delete_blocker(target):
            raise RegistryError(ErrorKind.PERMISSION_DENIED, blocker)
        location = self.locate(target)
        api = await self._api(op, target, location)
        assert api is not None
        info = await api.token_self()
        if info is None:
            raise RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                "GitLab's API did not accept the saved token, so it cannot delete; nothing was "
                "deleted.",
            )
        scopes = info.get("scopes") if isinstance(info.get("scopes"), list) else []
        if "api" not in (scopes or []):
            raise RegistryError(
                ErrorKind.PERMISSION_DENIED,
                lacks("api", "delete registry repositories") + " Nothing was deleted.",
            )
        project = await api.find_project(location.repository)
        if project is None or not isinstance(project.get("id"), int):
            raise RegistryError(
                ErrorKind.REPOSITORY_NOT_FOUND,
                f"GitLab has no project for {location.repository} that this token can see.",
            )
        entry = await api.find_registry_repository(project["id"], location.repository)
        if entry is not None:
            await api.delete_registry_repository(project["id"], entry["id"])
            return
        raise RegistryError(
            ErrorKind.REPOSITORY_NOT_FOUND,
            f"GitLab project {project.get('path_with_namespace')} has no registry repository "
            f"{location.repository}; nothing was deleted.",
        )


class GitLabToolCheck(ToolCheckBase):
    """Test a registered GitLab: its API answers and the tool's token has the api scope
    (creating checks projects, deleting removes registry repositories)."""

    async def run(self) -> None:
        base = parse_url(self.tool.url, what="GitLab URL")
        credentials = self.tool.credentials
        secret = credentials.secret if credentials else ""
        api = JsonApi(
            self.op,
            base,
            self.tool.tls,
            name="GitLab",
            auth_headers={"PRIVATE-TOKEN": secret},
            secret=secret or None,
        )
        response = await api.request("GET", f"{API}/personal_access_tokens/self")
        if response.status not in (200, 401, 403):
            raise api.error(response, "answer GET /api/v4/personal_access_tokens/self")
        self.passed(STEP_REACHABLE, f"GitLab API v4 at {base.base} answered")
        if response.status != 200:
            raise RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                "GitLab rejected the tool's token (a personal, project or group access token "
                "with the api scope is needed).",
            )
        info = json_dict(response)
        scopes = info.get("scopes") if isinstance(info.get("scopes"), list) else []
        if "api" not in (scopes or []):
            raise RegistryError(ErrorKind.PERMISSION_DENIED, lacks("api", "create and delete"))
        expires = parse_expiry(info.get("expires_at"))
        until = f", expires {expires.date().isoformat()}" if expires else ""
        self.passed(STEP_AUTHENTICATED, f"token {info.get('name') or '?'} (api){until}")
