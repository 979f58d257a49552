"""Quay (quay.io or Red Hat Quay): the registry protocol plus Quay's API (`/api/v1`).

Registry logins are robot accounts (`org+name`), users, or an OAuth
application token with the username `$oauthtoken`.  Quay's API takes only
OAuth tokens: robots cannot use it, so with a robot the registry is all there
is (test yes; create and delete in IR no, and the delete modal says so).  With
`$oauthtoken` the token also drives the API: `POST /api/v1/repository` to
create, `DELETE /api/v1/repository/{namespace}/{repository}` to delete (both
need admin rights on the namespace), `GET` on the same path to tell a missing
repository from a denied one.  The API lives on the registry's own host.

Names may nest (`org/team/app`): Quay's `FEATURE_EXTENDED_REPOSITORY_NAMES` is on by
default (quay `config.py`) and the API's repository path converter takes
`namespace/name[/more]` (`APIRepositoryPathConverter`, `([^/]+(/[^/]+)+)`), so the
path is sent with its slashes.  `GET /api/v1/user/` needs the `user:read` scope
(`getLoggedInUser` raises InvalidToken, 401, without `UserReadPermission`); a token
with only `repo:*` scopes is valid yet gets 401 there, so the tool test asks
`GET /api/v1/repository?starred=true` (`listRepos`) whenever `/user/` says 401: an
invalid token is refused on every API path, a valid one is answered.
"""

from __future__ import annotations

from urllib.parse import quote

from registry.drivers import Account, Driver, Location, Operation, ToolCheckBase
from registry.errors import ErrorKind, RegistryError, refusal
from registry.hostedapi import JsonApi, json_dict, server_message
from registry.http import confirms_deletion
from registry.kinds import QUAY_REGISTRY_URL, RegistryType
from registry.oci import Ping, check_repository_name
from registry.results import STEP_AUTHENTICATED, STEP_REACHABLE
from registry.target import RepositoryTarget
from registry.urlguard import parse_url

OAUTH_USER = "$oauthtoken"


def is_robot(username: str) -> bool:
    return "+" in username


def api_token(target: RepositoryTarget) -> str | None:
    """The OAuth token that may call Quay's API: a registered tool's, or `$oauthtoken`'s."""
    if target.tool is not None and target.tool.credentials is not None:
        return target.tool.credentials.secret
    if target.credentials is not None and target.credentials.username == OAUTH_USER:
        return target.credentials.secret
    return None


def api_location(target: RepositoryTarget, location: Location) -> Location:
    """Quay's API is on the registry's host, or on the registered tool's URL."""
    if target.tool is not None and target.tool.credentials is not None:
        return Location(parse_url(target.tool.url, what="Quay URL"), target.tool.tls, "")
    return location


class QuayApi:
    def __init__(self, op: Operation, location: Location, token: str) -> None:
        self.api = JsonApi(
            op,
            location.base,
            location.tls,
            name="Quay",
            auth_headers={"Authorization": f"Bearer {token}"},
            secret=token,
        )

    @staticmethod
    def _path(repository: str) -> str:
        namespace, name = repository.split("/", 1)
        # `<apirepopath:repository>`: namespace/name with any nesting, slashes kept
        return f"/api/v1/repository/{quote(namespace, safe='')}/{quote(name, safe='/')}"

    async def exists(self, repository: str) -> bool:
        response = await self.api.request("GET", self._path(repository))
        if response.status == 200:
            return True
        if response.status == 404:
            return False
        raise self.api.error(response, f"look up {repository}")

    async def create(self, repository: str) -> None:
        namespace, name = repository.split("/", 1)
        response = await self.api.request(
            "POST",
            "/api/v1/repository",
            json_body={
                "namespace": namespace,
                "repository": name,
                "visibility": "private",
                "description": "",
                "repo_kind": "image",
            },
        )
        if response.status in (200, 201):
            return
        said = server_message(response)
        if response.status == 400 and "exists" in said.lower():
            raise RegistryError(
                ErrorKind.ALREADY_EXISTS, f"Quay already has a repository {repository}."
            )
        if response.status == 403:
            raise RegistryError(
                ErrorKind.PERMISSION_DENIED,
                f"Quay refused to create {repository}: the token needs admin rights on "
                f"{namespace} (an organisation admin's OAuth token){said}.",
            )
        raise self.api.error(response, f"create {repository}")

    async def delete(self, repository: str) -> None:
        response = await self.api.request("DELETE", self._path(repository))
        if confirms_deletion(response):
            return
        raise refusal(
            response.status,
            {
                404: (
                    ErrorKind.REPOSITORY_NOT_FOUND,
                    f"Quay has no repository {repository}; nothing was deleted.",
                ),
                403: (
                    ErrorKind.PERMISSION_DENIED,
                    f"Quay refused to delete {repository}: the token needs admin rights on the "
                    "repository; nothing was deleted.",
                ),
            },
        ) or self.api.error(response, f"delete {repository}")


class QuayDriver(Driver):
    type = RegistryType.QUAY
    label = "Quay"

    def locate(self, target: RepositoryTarget) -> Location:
        repository = check_repository_name(target.repository)
        if "/" not in repository:
            raise RegistryError(
                ErrorKind.INVALID_REPOSITORY,
                f"Quay repositories are named namespace/name (or namespace/team/name); "
                f"{repository!r} has no namespace.",
            )
        return self.hosted(target, QUAY_REGISTRY_URL, repository)

    async def account(
        self, op: Operation, target: RepositoryTarget, location: Location, ping: Ping
    ) -> Account | None:
        credentials = target.credentials
        if credentials is None:
            return None
        if is_robot(credentials.username):
            return Account(f"Quay robot account {credentials.username}")
        if credentials.username == OAUTH_USER:
            return Account("Quay OAuth application token")
        return Account(f"Quay user {credentials.username}")

    async def reconsider_pull(
        self, op: Operation, target: RepositoryTarget, location: Location, error: RegistryError
    ) -> str | RegistryError:
        token = api_token(target)
        if token is None or error.kind not in (
            ErrorKind.PERMISSION_DENIED,
            ErrorKind.AUTHENTICATION_FAILED,
            ErrorKind.REPOSITORY_NOT_FOUND,
        ):
            return error
        try:
            exists = await QuayApi(op, api_location(target, location), token).exists(
                location.repository
            )
        except RegistryError:
            return error
        if exists:
            if target.pull_only or error.kind is not ErrorKind.REPOSITORY_NOT_FOUND:
                return error
            # Created (e.g. by Create new) but nothing pushed yet: the registry does not
            # know it until the first push; an app repository may start empty.
            return f"{location.repository} exists in Quay and is empty until the first push"
        return RegistryError(
            ErrorKind.REPOSITORY_NOT_FOUND, f"Quay has no repository {location.repository}."
        )

    def delete_blocker(self, target: RepositoryTarget) -> str | None:
        if api_token(target) is not None:
            return None
        if target.credentials is not None and is_robot(target.credentials.username):
            return (
                f"Quay robot accounts ({target.credentials.username}) cannot use Quay's API, so "
                "they cannot delete repositories; change the account to $oauthtoken with an "
                "OAuth token of an organisation admin."
            )
        return (
            "Quay deletes only through its API, which needs an OAuth token: save the account "
            "as $oauthtoken with an organisation admin's application token."
        )

    async def create(self, op: Operation, target: RepositoryTarget) -> str:
        location = self.locate(target)
        token = api_token(target)
        if token is None:
            raise RegistryError(
                ErrorKind.UNSUPPORTED_OPERATION,
                "Creating on Quay needs its API, which takes an OAuth token: use the username "
                "$oauthtoken with an organisation admin's application token.",
            )
        await QuayApi(op, api_location(target, location), token).create(location.repository)
        return f"Created the Quay repository {location.repository} (private)."

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        if blocker := self.delete_blocker(target):
            raise RegistryError(ErrorKind.PERMISSION_DENIED, blocker)
        location = self.locate(target)
        token = api_token(target)
        assert token is not None
        await QuayApi(op, api_location(target, location), token).delete(location.repository)


class QuayToolCheck(ToolCheckBase):
    """Test a registered Quay: its API answers (`GET /api/v1/user/`), and the tool's OAuth
    token is accepted (robots cannot be tools: Quay's API does not take them)."""

    async def run(self) -> None:
        base = parse_url(self.tool.url, what="Quay URL")
        credentials = self.tool.credentials
        token = credentials.secret if credentials else None
        api = JsonApi(
            self.op,
            base,
            self.tool.tls,
            name="Quay",
            auth_headers={"Authorization": f"Bearer {token}"} if token else {},
            secret=token,
        )
        response = await api.request("GET", "/api/v1/user/")
        if response.status not in (200, 401, 403):
            raise api.error(response, "answer GET /api/v1/user/")
        self.passed(STEP_REACHABLE, f"Quay API at {base.base} answered")
        if credentials is not None and is_robot(credentials.username):
            raise RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                f"{credentials.username} is a robot account: Quay's API does not accept robots. "
                "Register Quay with an organisation admin's OAuth application token.",
            )
        if token is None:
            raise RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                "A Quay tool needs an OAuth application token of an organisation admin.",
            )
        if response.status == 200:
            user = json_dict(response).get("username")
            self.passed(STEP_AUTHENTICATED, f"OAuth token of Quay user {user or '?'} accepted")
            return
        # 401 from /user/ is also a valid token without user:read: ask an API the repo
        # scopes reach; a wrong token is refused there too.
        listed = await api.request("GET", "/api/v1/repository", params=[("starred", "true")])
        if listed.status != 200:
            raise RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                f"Quay rejected the tool's OAuth token{server_message(listed)}.",
            )
        self.passed(
            STEP_AUTHENTICATED,
            "OAuth token accepted (without the user:read scope Quay does not say whose it "
            "is; creating needs repo:create, deleting repo:admin)",
        )
