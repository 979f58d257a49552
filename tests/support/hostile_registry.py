"""A hostile registry for tests: a small registry API whose answers a test can turn nasty.

`HostileRegistry` speaks just enough of the OCI distribution API for a
Connection Test (ping, Bearer tokens from a realm, tags list, blob upload and
its cancel, manifests for deletion), and each answer can be swapped for a hostile
one: a realm on another host, a redirect, an upload `Location` pointing
elsewhere, a gzip bomb, an endless tag list, absurd `Retry-After` values or a
deeply nested JSON body.  It listens on any loopback address (127.0.0.2,
127.0.0.3, ... stand for other machines) and logs every request it got.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable
from urllib.parse import quote, quote_plus

from tests.support.registry_httpserver import Request, Response, ThreadedHttpServer

API = [("Docker-Distribution-Api-Version", "registry/2.0")]
Override = Callable[[Request], Response | None]


def gzip_bomb(decompressed: int, chunk: int = 1 << 20) -> bytes:
    """A gzip stream of `decompressed` zero bytes, built without holding them in memory."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(chunk)
    parts = [packer.compress(zeros) for _ in range(decompressed // chunk)]
    parts.append(packer.flush())
    return b"".join(parts)


def basic(username: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{secret}".encode()).decode()


class HostileRegistry:
    """A registry on `host` with Bearer auth; its token realm is `realm` (default: itself).

    `override` is asked first for every request and may answer in its place
    (return None to let the registry answer normally).
    """

    def __init__(self, *, host: str = "127.0.0.2", username: str, secret: str) -> None:
        self.authorization = basic(username, secret)
        self.realm: str | None = None
        self.tags: list[str] = ["v1"]
        self.override: Override | None = None
        self.answers: dict[str, Response] = {}  # named answers the API handlers below use
        self.server = ThreadedHttpServer(self._handle, host=host)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def requests(self) -> list[Request]:
        return self.server.requests

    def start(self) -> None:
        self.server.start()

    def stop(self) -> None:
        self.server.stop()

    def __enter__(self) -> HostileRegistry:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def challenge(self) -> str:
        realm = self.realm or f"{self.url}/token"
        return f'Bearer realm="{realm}",service="hostile"'

    def _handle(self, request: Request) -> Response:
        if self.override is not None:
            answer = self.override(request)
            if answer is not None:
                return answer
        if request.raw_path == "/token":
            return token_answer(request, self.authorization)
        if request.headers.get("authorization") != "Bearer hostile-token":
            return Response.json(401, {}, [("WWW-Authenticate", self.challenge()), *API])
        path = request.raw_path
        if path == "/v2/":
            return Response.json(200, {}, API)
        if path.endswith("/tags/list"):
            return Response.json(200, {"name": "team/app", "tags": self.tags}, API)
        if path.endswith("/blobs/uploads/") and request.method == "POST":
            return Response(202, b"", [("Location", "/v2/team/app/blobs/uploads/u1"), *API])
        if "/blobs/uploads/" in path and request.method == "DELETE":
            return Response(204, b"", API)
        if "/manifests/" in path:
            return Response(200, b"{}", [("Docker-Content-Digest", "sha256:" + "a" * 64), *API])
        return Response.json(404, {"errors": [{"code": "NAME_UNKNOWN"}]}, API)


def token_answer(request: Request, authorization: str) -> Response:
    """What a token service answers: a token for the right Basic credentials."""
    if request.headers.get("authorization") != authorization:
        return Response.json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
    return Response.json(200, {"token": "hostile-token", "expires_in": 300})


def secret_spellings(username: str, secret: str) -> list[str]:
    """How a saved secret can travel: plain (a token header, a JSON or form body), in a
    Basic header, URL-encoded, in a Bearer header."""
    return [
        secret,
        basic(username, secret).split(" ", 1)[1],
        quote(secret, safe=""),
        quote_plus(secret),
    ]


def received_secret(requests: list[Request], username: str, secret: str) -> list[str]:
    """`METHOD path header` for every request that carried the secret in any spelling, in a
    header (any name), the request target or the body: empty when it never arrived."""
    spellings = [s.encode() for s in secret_spellings(username, secret)]
    found: list[str] = []
    for request in requests:
        places = [(f"header {k}", v.encode()) for k, v in request.headers.items()]
        places += [("target", request.target.encode()), ("body", request.body)]
        for where, value in places:
            if any(s in value for s in spellings):
                found.append(f"{request.method} {request.raw_path} {where}")
    return found


def gitlab_api(registry: HostileRegistry, token: str) -> Override:
    """GitLab's REST API v4 and its `/jwt/auth` token service on the registry's host: the
    token describes itself with the api scope, project team/app (id 1) holds the
    registry repository team/app/api (id 7), and deleting it is accepted (202).  Set
    `registry.answers["gitlab-delete"]` to answer the DELETE otherwise.  Written from
    https://docs.gitlab.com/ee/api/personal_access_tokens.html and
    https://docs.gitlab.com/ee/api/container_registry.html."""

    def answer(request: Request) -> Response | None:
        path = request.raw_path
        if path == "/jwt/auth":
            return token_answer(request, registry.authorization)
        if not path.startswith("/api/v4/"):
            return None
        if request.headers.get("private-token") != token:
            return Response.json(401, {"message": "401 Unauthorized"})
        if path == "/api/v4/personal_access_tokens/self":
            return Response.json(
                200, {"name": "ci", "scopes": ["api"], "active": True, "revoked": False}
            )
        if path == "/api/v4/projects/team%2Fapp":
            access = {"project_access": {"access_level": 40}}
            return Response.json(
                200, {"id": 1, "path_with_namespace": "team/app", "permissions": access}
            )
        if path == "/api/v4/projects/1/registry/repositories":
            return Response.json(200, [{"id": 7, "path": "team/app/api"}])
        if path == "/api/v4/projects/1/registry/repositories/7" and request.method == "DELETE":
            return registry.answers.get("gitlab-delete") or Response(202)
        return Response.json(404, {"message": "404 Project Not Found"})

    return answer


def acr_api(registry: HostileRegistry) -> Override:
    """ACR's token endpoint `/oauth2/token` (Basic admin user) and `DELETE /acr/v1/{name}`
    (202 with the deleted manifests and tags, or `registry.answers["acr-delete"]`), from
    https://github.com/Azure/acr/blob/main/docs/AAD-OAuth.md and the ACR REST reference."""

    def answer(request: Request) -> Response | None:
        if request.raw_path == "/oauth2/token":
            return token_answer(request, registry.authorization)
        if request.raw_path.startswith("/acr/v1/") and request.method == "DELETE":
            return registry.answers.get("acr-delete") or Response.json(
                202, {"manifestsDeleted": [], "tagsDeleted": []}
            )
        return None

    return answer
