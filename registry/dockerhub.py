"""Docker Hub: the registry protocol plus the Hub API for what the registry cannot say.

Docker Hub's registry answers 401 rather than 404 for a repository that does
not exist, and its token service hands out tokens for any name, so existence
comes from the Hub API (`HEAD /v2/namespaces/{ns}/repositories/{repo}`), asked
only after a pull check failed.  Deletion is the Hub API's
`DELETE /v2/repositories/{ns}/{repo}/` with a Hub token from `POST /v2/auth/token`.
"""

from __future__ import annotations

from urllib.parse import quote

from registry.drivers import Driver, Location, Operation
from registry.errors import ErrorKind, RegistryError, refusal, unexpected_answer
from registry.http import HttpResponse, Service, confirms_deletion
from registry.kinds import RegistryType
from registry.oci import check_repository_name, describe_codes
from registry.ratelimit import rate_limit_error
from registry.target import Credentials, RepositoryTarget, TlsOptions
from registry.urlguard import RegistryUrl, parse_url

_HUB_WEB_HOSTS = frozenset({"docker.io", "index.docker.io", "hub.docker.com", "www.docker.com"})
_HUB_PREFIXES = (
    "docker.io/",
    "index.docker.io/",
    "registry-1.docker.io/",
    "registry.hub.docker.com/",
)


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

    def _error(self, response: HttpResponse, what: str) -> RegistryError:
        if response.status == 429:
            return rate_limit_error(response.headers, "Docker Hub")
        known = {
            401: (
                ErrorKind.AUTHENTICATION_FAILED,
                f"Docker Hub rejected the credentials ({what}).",
            ),
            403: (ErrorKind.PERMISSION_DENIED, f"Docker Hub refused {what}."),
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

    async def delete_repository(self, repository: str, token: str) -> None:
        namespace, name = repository.split("/", 1)
        path = f"/v2/repositories/{quote(namespace, safe='')}/{quote(name, safe='')}/"
        response = await self._request("DELETE", path, token=token)
        if confirms_deletion(response):
            return
        if response.status == 404:
            raise RegistryError(
                ErrorKind.REPOSITORY_NOT_FOUND, f"Docker Hub has no repository {repository}."
            )
        if response.status in (401, 403):
            raise RegistryError(
                ErrorKind.PERMISSION_DENIED,
                f"Permission denied: this Docker Hub account may not delete {repository} "
                "(it needs an access token with delete rights).",
            )
        raise self._error(response, f"deleting {repository}")


class DockerHubDriver(Driver):
    type = RegistryType.DOCKER_HUB
    label = "Docker Hub's registry"

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
        """Denied by the registry may mean "does not exist": ask the Hub API."""
        if error.kind not in (ErrorKind.PERMISSION_DENIED, ErrorKind.AUTHENTICATION_FAILED):
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
            return error
        who = f" that {target.credentials.username} can see" if target.credentials else ""
        return RegistryError(
            ErrorKind.REPOSITORY_NOT_FOUND,
            f"Docker Hub has no repository {location.repository}{who}.",
        )

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        location = self.located(target)
        if location.repository.startswith("library/"):
            raise RegistryError(
                ErrorKind.PERMISSION_DENIED,
                f"{location.repository} is an official Docker Hub image; it cannot be deleted.",
            )
        if target.credentials is None:
            raise RegistryError(
                ErrorKind.AUTHENTICATION_FAILED,
                "Deleting on Docker Hub needs a username and an access token with delete rights.",
            )
        api = self._api(op)
        token = await api.login(target.credentials)
        await api.delete_repository(location.repository, token)
