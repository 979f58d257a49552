"""Delete in IR tells the truth (issue 18, finding 4): only what the registry verifiably
deleted counts.  A tag list that cannot be read (over the 4 MiB cap, a web page with 200,
`"tags": null`, a next page on another host) deletes nothing and fails with a reason; a
DELETE answered 2xx with a web page, or accepted while the tags stay listed, is a failure.

The registry is a hostile stand-in on 127.0.0.2 that follows the distribution spec's tag
list (`{"name": ..., "tags": [...]}`, https://github.com/opencontainers/distribution-spec/
blob/main/spec.md#listing-tags) until a test turns one answer nasty.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator

import pytest

from registry import (
    Credentials,
    ErrorKind,
    RegisteredTool,
    RegistryConfig,
    RegistryError,
    RegistryService,
    RegistryType,
    RepositoryTarget,
)
from tests.support.hostile_registry import API, HostileRegistry, acr_api, gitlab_api
from tests.support.registry_httpserver import Request, Response

USER = "dana"
SECRET = "delete-truth-s3cret"
CREDS = Credentials(USER, SECRET)
LOGIN_PAGE = Response.text(200, "<html><body>Please sign in</body></html>", "text/html")


def config(**more: str) -> RegistryConfig:
    return RegistryConfig(
        allowed_networks=(ipaddress.ip_network("127.0.0.0/8"),),
        connect_timeout=2.0,
        read_timeout=5.0,
        operation_timeout=20.0,
        **more,  # type: ignore[arg-type]
    )


@pytest.fixture
def registry() -> Iterator[HostileRegistry]:
    with HostileRegistry(host="127.0.0.2", username=USER, secret=SECRET) as server:
        yield server


def plain(url: str) -> RepositoryTarget:
    return RepositoryTarget(RegistryType.IMAGE_REGISTRY, url, "team/app", CREDS, False)


def deletes(server: HostileRegistry) -> list[Request]:
    return [r for r in server.requests if r.method == "DELETE"]


def tag_list(body: bytes, content_type: str = "application/json") -> Response:
    return Response(200, body, [("Content-Type", content_type), *API])


def over_the_cap() -> bytes:
    """A valid tag list of about 5 MiB (the body cap is 4 MiB)."""
    return json.dumps({"name": "team/app", "tags": [f"t{i:07d}" for i in range(500_000)]}).encode()


UNREADABLE = {
    "over the 4 MiB cap": (lambda: tag_list(over_the_cap()), "larger than the size limit"),
    "an HTML page with 200": (lambda: LOGIN_PAGE, "a web page"),
    "tags null": (lambda: tag_list(b'{"name": "team/app", "tags": null}'), "no list of tags"),
    "no tags key": (lambda: tag_list(b'{"name": "team/app"}'), "no list of tags"),
    "numbers for tags": (lambda: tag_list(b'{"name": "team/app", "tags": [1, 2]}'), "other than"),
}


@pytest.mark.parametrize("case", list(UNREADABLE))
async def test_an_unreadable_tag_list_deletes_nothing_and_says_why(
    case: str, registry: HostileRegistry
) -> None:
    answer, why = UNREADABLE[case]
    registry.override = lambda r: (
        answer() if r.raw_path.endswith("/tags/list") and r.headers.get("authorization") else None
    )
    async with RegistryService(config()) as service:
        with pytest.raises(RegistryError) as failed:
            await service.delete_repository(plain(registry.url))
    assert failed.value.kind is ErrorKind.PROTOCOL
    assert "tag list of team/app could not be read" in failed.value.message
    assert why in failed.value.message
    assert "nothing was deleted" in failed.value.message
    assert deletes(registry) == []


async def test_a_tag_list_continuing_on_another_host_deletes_nothing(
    registry: HostileRegistry,
) -> None:
    def paged(request: Request) -> Response | None:
        if request.raw_path.endswith("/tags/list") and request.headers.get("authorization"):
            link = ("Link", '<http://127.0.0.3:9/v2/team/app/tags/list?last=v1>; rel="next"')
            return Response.json(200, {"name": "team/app", "tags": ["v1"]}, [link, *API])
        return None

    registry.override = paged
    async with RegistryService(config()) as service:
        with pytest.raises(RegistryError) as failed:
            await service.delete_repository(plain(registry.url))
    assert failed.value.kind is ErrorKind.PROTOCOL
    assert "continues at http://127.0.0.3:9" in failed.value.message
    assert deletes(registry) == []


async def test_a_delete_accepted_while_the_tags_stay_listed_is_not_deleted(
    registry: HostileRegistry,
) -> None:
    """The stand-in answers 200 `{}` to the manifest DELETE but keeps listing `v1`."""
    async with RegistryService(config()) as service:
        with pytest.raises(RegistryError) as failed:
            await service.delete_repository(plain(registry.url))
    assert failed.value.kind is ErrorKind.REGISTRY_ERROR
    assert "still lists 1 of its tags (v1)" in failed.value.message
    assert len(deletes(registry)) == 1


async def test_a_web_page_answering_the_manifest_delete_is_not_deleted(
    registry: HostileRegistry,
) -> None:
    registry.override = lambda r: LOGIN_PAGE if r.method == "DELETE" else None
    async with RegistryService(config()) as service:
        with pytest.raises(RegistryError) as failed:
            await service.delete_repository(plain(registry.url))
    assert failed.value.kind is ErrorKind.REGISTRY_ERROR
    assert "does not confirm it" in failed.value.message


async def test_a_registry_that_really_deletes_still_reports_success(
    registry: HostileRegistry,
) -> None:
    """Not over-strict: the tags gone after the DELETE (`"tags": null` then, as
    distribution answers for an emptied repository) is a verified deletion."""
    gone: list[bool] = []

    def deleting(request: Request) -> Response | None:
        if request.method == "DELETE" and "/manifests/" in request.raw_path:
            gone.append(True)
            return Response(202, b"", API)
        if (
            gone
            and request.raw_path.endswith("/tags/list")
            and request.headers.get("authorization")
        ):
            return Response.json(200, {"name": "team/app", "tags": None}, API)
        return None

    registry.override = deleting
    async with RegistryService(config()) as service:
        await service.delete_repository(plain(registry.url))
    assert gone == [True]


# -- the hosted and cloud drivers: a 2xx web page answering the DELETE --------------------


def hub_api(request: Request) -> Response | None:
    """Docker Hub's `POST /v2/auth/token` and `DELETE /v2/repositories/{ns}/{name}/`
    (https://docs.docker.com/reference/api/hub/latest/), the DELETE a login page."""
    if request.raw_path == "/v2/auth/token":
        return Response.json(200, {"access_token": "hub-api-token"})
    if request.raw_path == "/v2/repositories/team/app/" and request.method == "DELETE":
        return LOGIN_PAGE
    return None


def github_api(request: Request) -> Response | None:
    """GitHub's `GET /user` (a classic token with delete:packages) and the package DELETE
    (https://docs.github.com/rest/packages/packages), the DELETE a login page."""
    if request.raw_path == "/user":
        scopes = ("X-OAuth-Scopes", "read:packages, write:packages, delete:packages")
        return Response.json(200, {"login": USER}, [scopes])
    if request.method == "DELETE":
        return LOGIN_PAGE
    return None


def quay_api(request: Request) -> Response | None:
    """Quay's `DELETE /api/v1/repository/{ns}/{name}` answered with a login page."""
    return LOGIN_PAGE if request.raw_path.startswith("/api/v1/repository/") else None


def harbor_api(request: Request) -> Response | None:
    """Harbor's `DELETE /api/v2.0/projects/{p}/repositories/{r}` answered with a login page."""
    return LOGIN_PAGE if request.raw_path.startswith("/api/v2.0/projects/") else None


@pytest.mark.parametrize(
    "kind",
    [
        RegistryType.GITLAB,
        RegistryType.ACR,
        RegistryType.DOCKER_HUB,
        RegistryType.GHCR,
        RegistryType.QUAY,
        RegistryType.HARBOR,
    ],
)
async def test_a_web_page_with_200_to_the_delete_is_a_failure_for_every_driver(
    kind: RegistryType, registry: HostileRegistry
) -> None:
    repository, credentials, tool = "team/app", CREDS, None
    if kind is RegistryType.GITLAB:
        registry.realm = f"{registry.url}/jwt/auth"
        registry.override = gitlab_api(registry, SECRET)
        registry.answers["gitlab-delete"] = LOGIN_PAGE
        repository = "team/app/api"
    elif kind is RegistryType.ACR:
        registry.realm = f"{registry.url}/oauth2/token"
        registry.override = acr_api(registry)
        registry.answers["acr-delete"] = LOGIN_PAGE
    elif kind is RegistryType.DOCKER_HUB:
        registry.override = hub_api
    elif kind is RegistryType.GHCR:
        registry.override = github_api
    elif kind is RegistryType.QUAY:
        registry.override = quay_api
        credentials = Credentials("$oauthtoken", SECRET)
    else:
        registry.override = harbor_api
        tool = RegisteredTool(registry.url, CREDS)
    target = RepositoryTarget(kind, registry.url, repository, credentials, False, tool=tool)
    urls = {"dockerhub_registry_url": registry.url, "dockerhub_api_url": registry.url}
    async with RegistryService(config(github_api_url=registry.url, **urls)) as service:
        with pytest.raises(RegistryError) as failed:
            await service.delete_repository(target)
    assert failed.value.kind is ErrorKind.REGISTRY_ERROR, failed.value.message
    assert "HTTP 200" in failed.value.message
    assert SECRET not in failed.value.message
    assert len(deletes(registry)) == 1


@pytest.fixture
def elsewhere() -> Iterator[HostileRegistry]:
    """Another host (127.0.0.3) that answers every request with 202 Accepted."""
    server = HostileRegistry(host="127.0.0.3", username=USER, secret=SECRET)
    server.override = lambda r: Response(202, b"", API)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("kind", [RegistryType.IMAGE_REGISTRY, RegistryType.DOCKER_HUB])
async def test_a_delete_redirected_to_another_host_is_not_deleted(
    kind: RegistryType, registry: HostileRegistry, elsewhere: HostileRegistry
) -> None:
    """Without the credentials, another host cannot delete anything: its 202 is not a
    deletion, and the DELETE is not re-sent there at all."""

    def redirecting(request: Request) -> Response | None:
        if request.method == "DELETE":
            return Response(307, b"", [("Location", f"{elsewhere.url}{request.target}")])
        if kind is RegistryType.DOCKER_HUB and request.raw_path == "/v2/auth/token":
            return Response.json(200, {"access_token": "hub-api-token"})
        return None

    registry.override = redirecting
    target = RepositoryTarget(kind, registry.url, "team/app", CREDS, False)
    urls = {"dockerhub_registry_url": registry.url, "dockerhub_api_url": registry.url}
    async with RegistryService(config(**urls)) as service:
        with pytest.raises(RegistryError) as failed:
            await service.delete_repository(target)
    assert failed.value.kind is ErrorKind.REFUSED_TARGET, failed.value.message
    assert "another origin" in failed.value.message
    assert elsewhere.requests == []
