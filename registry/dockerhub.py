"""Docker Hub: the registry protocol plus the Hub API for what the registry cannot say.

Docker Hub's registry answers 401 rather than 404 for a repository that does
not exist, and its token service hands out tokens for any name, so existence
comes from the Hub API (`HEAD /v2/namespaces/{ns}/repositories/{repo}`), asked
only after a pull check failed.  Deletion is the Hub API's
`DELETE /v2/repositories/{ns}/{repo}/` with a Hub token from `POST /v2/auth/token`;
creating is `POST /v2/namespaces/{ns}/repositories` (Docker Hub API reference,
"Create a new repository", body `repo_creation_request`: namespace, name,
description, is_private).

Pull quota: Docker Hub reports it in `ratelimit-limit` / `ratelimit-remaining`
(`100;w=21600`: 100 pulls per 21,600 s) on manifest requests, and a `HEAD` on a
manifest does not count as a pull (docs.docker.com, "Docker Hub usage and
limits"), so the Connection Test's pull step HEADs one manifest and says how many
pulls are left.  No headers: no limit applies to the account.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import quote

from registry.drivers import Driver, Location, Operation
from registry.errors import ErrorKind, RegistryError, refusal, server_text, unexpected_answer
from registry.http import HttpResponse, Service, confirms_deletion
from registry.kinds import RegistryType
from registry.oci import Grant, OciSession, check_repository_name, describe_codes
from registry.ratelimit import rate_limit_error
from registry.results import PullQuota
from registry.target import Credentials, RepositoryTarget, TlsOptions
from registry.urlguard import RegistryUrl, origin_of, parse_url

_HUB_WEB_HOSTS = frozenset({"docker.io", "index.docker.io", "hub.docker.com", "www.docker.com"})
_HUB_PREFIXES = (
    "docker.io/",
    "index.docker.io/",
    "registry-1.docker.io/",
    "registry.hub.docker.com/",
)


def _quota_part(value: str | None) -> tuple[int, int | None] | None:
    """`100;w=21600` -> (100, 21600); `100` -> (100, None); anything else None."""
    if not value:
        return None
    count, _, rest = value.partition(";")
    if not count.strip().isdigit():
        return None
    window: int | None = None
    for item in rest.split(";"):
        key, _, number = item.strip().partition("=")
        if key == "w" and number.isdigit():
            window = int(number)
    return int(count.strip()), window


def pull_quota(limit: str | None, remaining: str | None) -> PullQuota | None:
    """The quota from `ratelimit-limit` and `ratelimit-remaining`, or None without them."""
    total, left = _quota_part(limit), _quota_part(remaining)
    if total is None or left is None:
        return None
    return PullQuota(total[0], left[0], total[1] or left[1])


def normalize_repository(name: str) -> str:
    """`nginx` -> `library/nginx`; drops a `docker.io/` prefix; validates the name."""
    clean = name.strip()
    for prefix in _HUB_PREFIXES:
        if clean.lower().startswith(prefix):
            clean = clean[len(prefix) :]
            break
    clean = check_repository_name(clean)
    if "/" not in clean:
        clean = f"library/{clean}"
    return clean


class HubApi:
    """The few Hub API calls we need; every request goes through the guarded client."""

    def __init__(self, op: Operation, base: RegistryUrl) -> None:
        self.op = op
        self.base = base
        self.service = Service(f"the Docker Hub API at {base.base}")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json_body: object = None,
        keep_origin: bool = False,
    ) -> HttpResponse:
        return await self.op.http.request(
            method,
            self.base.endpoint(path),
            tls=TlsOptions(),
            stats=self.op.stats,
            service=self.service,
            authorization=f"Bearer {token}" if token else None,
            headers={"Accept": "application/json"},
            json_body=json_body,
            keep_origin=keep_origin,
        )

    def _error(
        self,
        response: HttpResponse,
        what: str,
        answers: Mapping[int, tuple[ErrorKind, str]] | None = None,
    ) -> RegistryError:
        """Why `what` failed; `answers` are the caller's words for statuses it knows."""
        if response.status == 429:
            return rate_limit_error(response.headers, "Docker Hub")
        known = {
            401: (
                ErrorKind.AUTHENTICATION_FAILED,
                f"Docker Hub rejected the credentials ({what}).",
            ),
            403: (ErrorKind.PERMISSION_DENIED, f"Docker Hub refused {what}."),
            **(answers or {}),
        }
        return refusal(response.status, known) or unexpected_answer(
            self.service.capitalised, response.status, what, describe_codes(response)
        )

    async def login(self, credentials: Credentials) -> str:
        """A Hub API token (`POST /v2/auth/token`, the successor of `/v2/users/login`)."""
        self.op.remember(credentials)
        response = await self._request(
            "POST",
            "/v2/auth/token",
            json_body={"identifier": credentials.username, "secret": credentials.secret},
            keep_origin=True,  # the body carries the secret: never re-sent elsewhere
        )
        if response.status == 200:
            try:
                data = response.json()
            except ValueError:
                data = None
            token = data.get("access_token") if isinstance(data, dict) else None
            if isinstance(token, str) and token:
                self.op.secrets.add(token)
                return token
            raise RegistryError(
                ErrorKind.REGISTRY_ERROR, f"{self.service.capitalised} answered without a token."
            )
        if response.status == 401:
            raise RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                f"Docker Hub rejected the username or access token for {credentials.username}.",
            )
        raise self._error(response, "the login")

    async def repository_exists(self, repository: str, token: str | None) -> bool:
        namespace, name = repository.split("/", 1)
        path = f"/v2/namespaces/{quote(namespace, safe='')}/repositories/{quote(name, safe='')}"
        response = await self._request("HEAD", path, token=token)
        if response.status == 200:
            return True
        if response.status == 404:
            return False
        raise self._error(response, f"the existence check of {repository}")

    async def create_repository(self, repository: str, token: str) -> None:
        """`POST /v2/namespaces/{ns}/repositories`: a private repository, empty until the
        first push."""
        namespace, name = repository.split("/", 1)
        response = await self._request(
            "POST",
            f"/v2/namespaces/{quote(namespace, safe='')}/repositories",
            token=token,
            json_body={
                "namespace": namespace,
                "name": name,
                "description": "",
                "is_private": True,
            },
        )
        if response.status in (200, 201):
            return
        said = _message(response)
        if response.status in (400, 409) and "exist" in said.lower():
            raise RegistryError(
                ErrorKind.ALREADY_EXISTS, f"Docker Hub already has a repository {repository}."
            )
        also = f" ({said})" if said else ""
        refused = (
            ErrorKind.PERMISSION_DENIED,
            f"Docker Hub refused to create {repository}: the account needs write rights "
            f"on the namespace {namespace} (an access token with Read & Write){also}.",
        )
        invalid = (
            ErrorKind.INVALID_REPOSITORY,
            f"Docker Hub did not accept the repository {repository}{also}.",
        )
        raise self._error(
            response, f"creating {repository}", {400: invalid, 401: refused, 403: refused}
        )

    async def delete_repository(self, repository: str, token: str) -> None:
        namespace, name = repository.split("/", 1)
        path = f"/v2/repositories/{quote(namespace, safe='')}/{quote(name, safe='')}/"
        response = await self._request("DELETE", path, token=token)
        if confirms_deletion(response):
            return
        missing = (ErrorKind.REPOSITORY_NOT_FOUND, f"Docker Hub has no repository {repository}.")
        denied = (
            ErrorKind.PERMISSION_DENIED,
            f"Permission denied: this Docker Hub account may not delete {repository} "
            "(it needs an access token with delete rights).",
        )
        raise self._error(
            response, f"deleting {repository}", {404: missing, 401: denied, 403: denied}
        )


def _message(response: HttpResponse) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    message = data.get("message") if isinstance(data, dict) else None
    return server_text(message) if isinstance(message, str) else ""


class DockerHubDriver(Driver):
    type = RegistryType.DOCKER_HUB
    label = "Docker Hub's registry"

    def provider_origins(self) -> frozenset[str]:
        """The Hub API (login, existence, create, delete)."""
        return frozenset({origin_of(self.config.dockerhub_api_url)})

    def locate(self, target: RepositoryTarget) -> Location:
        """The configured Docker Hub registry, also when users type Hub's web names."""
        url = target.registry_url.strip()
        if not url or parse_url(url).host in _HUB_WEB_HOSTS:
            url = self.config.dockerhub_registry_url
        return Location(parse_url(url), target.tls, normalize_repository(target.repository))

    def _api(self, op: Operation) -> HubApi:
        return HubApi(op, parse_url(self.config.dockerhub_api_url, what="Docker Hub API URL"))

    async def reconsider_pull(
        self, op: Operation, target: RepositoryTarget, location: Location, error: RegistryError
    ) -> str | RegistryError:
        """Denied by the registry may mean "does not exist", and "unknown" may mean "created
        but empty" (Create new): ask the Hub API."""
        empty_app = error.kind is ErrorKind.REPOSITORY_NOT_FOUND and not target.pull_only
        if not empty_app and error.kind not in (
            ErrorKind.PERMISSION_DENIED,
            ErrorKind.AUTHENTICATION_FAILED,
        ):
            return error
        api = self._api(op)
        try:
            token = await api.login(target.credentials) if target.credentials else None
            exists = await api.repository_exists(location.repository, token)
        except RegistryError as hub_error:
            if hub_error.kind is ErrorKind.RATE_LIMITED:
                return hub_error
            return error
        if exists:
            if empty_app:
                return (
                    f"{location.repository} exists on Docker Hub and is empty until the first push"
                )
            return error
        who = f" that {target.credentials.username} can see" if target.credentials else ""
        return RegistryError(
            ErrorKind.REPOSITORY_NOT_FOUND,
            f"Docker Hub has no repository {location.repository}{who}.",
        )

    async def _signed_in(
        self, op: Operation, target: RepositoryTarget, official: str, needs: str
    ) -> tuple[HubApi, str]:
        """Docker Hub's API signed in for a change to the target's repository.

        Refused before anything is sent: an official `library/` image (`official` says
        why), or no account (`needs` says which rights)."""
        location = self.located(target)
        if location.repository.startswith("library/"):
            raise RegistryError(ErrorKind.PERMISSION_DENIED, official)
        if target.credentials is None:
            raise RegistryError(ErrorKind.AUTHENTICATION_FAILED, needs)
        api = self._api(op)
        return api, await api.login(target.credentials)

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        repository = self.located(target).repository
        api, token = await self._signed_in(
            op,
            target,
            f"{repository} is an official Docker Hub image; it cannot be deleted.",
            "Deleting on Docker Hub needs a username and an access token with delete rights.",
        )
        await api.delete_repository(repository, token)

    async def create(self, op: Operation, target: RepositoryTarget) -> str:
        repository = self.located(target).repository
        api, token = await self._signed_in(
            op,
            target,
            "library/ holds Docker's official images; name the repository "
            "namespace/name in your own namespace.",
            "Creating on Docker Hub needs a username and an access token with write rights.",
        )
        await api.create_repository(repository, token)
        return f"Created the Docker Hub repository {repository} (private)."

    async def pull_note(
        self, op: Operation, session: OciSession, location: Location, grant: Grant
    ) -> str | PullQuota | None:
        """How many pulls the account has left, from a manifest HEAD (not a pull)."""
        response = await session.head_manifest(location.repository, grant)
        if response is None:
            return None
        quota = pull_quota(
            response.headers.get("ratelimit-limit"), response.headers.get("ratelimit-remaining")
        )
        return quota if quota is not None else "no pull limit reported"
