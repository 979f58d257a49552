"""Azure Container Registry for tests: one loopback front in front of a real token-auth
docker-registry, serving what ACR adds on the registry host:

- `POST /oauth2/exchange`: an Entra ID access token -> an ACR refresh token (a JWT
  with `exp`), which becomes the password of user 00000000-... at the token server;
- `GET /oauth2/token`: the registry token flow (tests/support/token_server.py);
- `DELETE /acr/v1/{repository}`: deletes every manifest through the real registry;
- everything else is passed through to the registry.

Entra ID's `/{tenant}/oauth2/v2.0/token` (client credentials) is served by the
same front under the authority path, so IMAGEREPO_AZURE_AUTHORITY = front URL.
Each Entra token has the audience its `scope` asked for (`<resource>/.default`):
`https://management.azure.com` (ARM) or `https://containerregistry.azure.net` (ACR).
A registry may refuse ARM-audience tokens (`arm_audience_disabled`): Azure Policy
"Container registries should have ARM audience token authentication disabled"
(Azure/azure-policy built-in-policies/policyDefinitions/Container Registry/
ACR_AADAuthenticationAsArmPolicy_AuditDeny.json: "Only Azure Container Registry (ACR)
audience tokens will be used for authentication"; `az acr config authentication-as-arm
update --status disabled`).  How the refusal looks is not documented; the exchange here
answers 401 UNAUTHORIZED, as it does for any token it does not accept.
"""

from __future__ import annotations

import contextlib
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, unquote

import httpx
import jwt
import pytest

from tests.support.certs import TestCA
from tests.support.registry_httpserver import Request, Response
from tests.support.registry_server import RegistryServer, skip_or_fail_without_registry
from tests.support.token_server import TokenServer, TokenUser

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "0b1f1d8e-1111-4c2a-9d61-3c8f5e0a7b21"
CLIENT_SECRET = "acr-sp-client-secret-0123456789"  # a test secret
REFRESH_USER = "00000000-0000-0000-0000-000000000000"
ADMIN_USER = "acrtest"
ADMIN_PASSWORD = "acr-admin-password-1"
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}
ARM_AUDIENCE = "https://management.azure.com"
ACR_AUDIENCE = "https://containerregistry.azure.net"


class AcrFront(TokenServer):
    """Token server + ACR's extra endpoints + a pass-through to the registry."""

    def __init__(self, ca: TestCA, refresh_lifetime: int = 3 * 3600) -> None:
        super().__init__(
            ca,
            users={
                ADMIN_USER: TokenUser(ADMIN_PASSWORD, {"*": {"pull", "push", "delete"}}),
            },
        )
        self.refresh_lifetime = refresh_lifetime
        self.registry_url = ""
        self.aad_tokens: dict[str, str] = {}  # Entra token -> its audience
        self.arm_audience_disabled = False
        self.exchanges = 0
        self.entra_calls = 0
        self.sp_has_role = True
        self.now: Callable[[], float] = time.time  # a test's simulated clock may replace it
        self._lock = threading.Lock()

    @property
    def realm(self) -> str:
        return f"{self.url}/oauth2/token"

    def _form(self, request: Request) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}

    def _entra(self, request: Request) -> Response:
        form = self._form(request)
        with self._lock:
            self.entra_calls += 1
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return Response.json(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.\r\n"
                    "Trace ID: 0000",
                },
            )
        scope = form.get("scope", "")
        if scope not in (f"{ARM_AUDIENCE}/.default", f"{ACR_AUDIENCE}/.default"):
            return Response.json(
                400, {"error": "invalid_scope", "error_description": "AADSTS70011: bad scope"}
            )
        token = f"aad-{secrets.token_urlsafe(16)}"
        with self._lock:
            self.aad_tokens[token] = scope.removesuffix("/.default")
        return Response.json(200, {"access_token": token, "expires_in": 3599})

    def _exchange(self, request: Request) -> Response:
        form = self._form(request)
        if form.get("grant_type") != "access_token" or form.get("tenant") != TENANT:
            return Response.json(400, {"errors": [{"code": "UNSUPPORTED"}]})
        audience = self.aad_tokens.get(form.get("access_token", ""))
        refused_arm = audience == ARM_AUDIENCE and self.arm_audience_disabled
        if audience is None or refused_arm or not self.sp_has_role:
            return Response.json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
        now = int(self.now())
        refresh = jwt.encode(
            {"jti": secrets.token_hex(8), "exp": now + self.refresh_lifetime, "tenant": TENANT},
            secrets.token_bytes(32),
            algorithm="HS256",
        )
        with self._lock:
            self.exchanges += 1
            self.users[REFRESH_USER] = TokenUser(refresh, {"*": {"pull", "push", "delete"}})
        return Response.json(200, {"refresh_token": refresh})

    def _delete(self, request: Request) -> Response:
        repository = unquote(request.raw_path.removeprefix("/acr/v1/"))
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return Response.json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
        claims = jwt.decode(header[7:], options={"verify_signature": False})
        allowed = any(
            a["name"] == repository and "delete" in a["actions"] for a in claims.get("access", [])
        )
        if not allowed:
            return Response.json(401, {"errors": [{"code": "DENIED"}]})
        admin = RegistryClientFor(self.registry_url, self)
        tags = admin.tags(repository)
        if not tags:
            return Response.json(404, {"errors": [{"code": "NAME_UNKNOWN"}]})
        admin.delete_all(repository, tags)
        return Response(202)

    def _pass_through(self, request: Request) -> Response:
        headers = {k: v for k, v in request.headers.items() if k not in _HOP}
        with httpx.Client(timeout=10) as client:
            answer = client.request(
                request.method,
                f"{self.registry_url}{request.target}",
                headers=headers,
                content=request.body or None,
            )
        out = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _HOP]
        if request.method == "HEAD" and "content-length" in answer.headers:
            out.append(("Content-Length", answer.headers["content-length"]))
        return Response(answer.status_code, answer.content, out)

    def _handle(self, request: Request) -> Response:
        path = request.raw_path
        if path == f"/{TENANT}/oauth2/v2.0/token" and request.method == "POST":
            return self._entra(request)
        if path == "/oauth2/exchange" and request.method == "POST":
            return self._exchange(request)
        if path == "/oauth2/token":
            query = request.target.partition("?")[2]
            inner = Request(request.method, f"/token?{query}", request.headers, request.body)
            return super()._handle(inner)
        if path.startswith("/acr/v1/") and request.method == "DELETE":
            return self._delete(request)
        return self._pass_through(request)


class RegistryClientFor:
    """The admin's view of the backing registry (to seed images and delete them)."""

    def __init__(self, registry_url: str, front: AcrFront) -> None:
        self.registry_url = registry_url
        self.front = front

    def _auth(self, client: httpx.Client, repository: str, actions: str) -> dict[str, str]:
        answer = client.get(
            f"{self.front.url}/oauth2/token",
            params={"service": self.front.service, "scope": f"repository:{repository}:{actions}"},
            auth=(ADMIN_USER, ADMIN_PASSWORD),
        )
        return {"Authorization": f"Bearer {answer.json()['token']}"}

    def tags(self, repository: str) -> list[str]:
        with httpx.Client(timeout=10) as client:
            answer = client.get(
                f"{self.registry_url}/v2/{repository}/tags/list",
                headers=self._auth(client, repository, "pull"),
            )
        if answer.status_code != 200:
            return []
        return list(answer.json().get("tags") or [])

    def delete_all(self, repository: str, tags: list[str]) -> None:
        with httpx.Client(timeout=10) as client:
            auth = self._auth(client, repository, "pull,delete")
            accept = "application/vnd.docker.distribution.manifest.v2+json"
            for tag in tags:
                head = client.head(
                    f"{self.registry_url}/v2/{repository}/manifests/{tag}",
                    headers={**auth, "Accept": accept},
                )
                digest = head.headers.get("docker-content-digest")
                if digest:
                    client.delete(
                        f"{self.registry_url}/v2/{repository}/manifests/{digest}", headers=auth
                    )


class AcrSetup:
    def __init__(self, front: AcrFront, registry: RegistryServer) -> None:
        self.front = front
        self.registry = registry

    @property
    def url(self) -> str:
        """The registry URL users type (the front, like NAME.azurecr.io)."""
        return self.front.url

    def push(self, repository: str) -> str:
        client = self.registry.client(ADMIN_USER, ADMIN_PASSWORD)
        return client.push_image(repository)

    def tags(self, repository: str) -> list[str]:
        return RegistryClientFor(self.registry.url, self.front).tags(repository)


@contextlib.contextmanager
def open_acr(ca: TestCA, workdir: Path) -> Iterator[AcrSetup]:
    """The ACR front (Entra ID, exchange, token flow, /acr/v1) before a token-auth registry."""
    skip_or_fail_without_registry()
    front = AcrFront(ca)
    front.start()
    registry = RegistryServer(workdir, token_server=front)
    front.registry_url = registry.url
    try:
        registry.start()
        yield AcrSetup(front, registry)
    finally:
        registry.stop()
        front.stop()


@pytest.fixture
def acr(registry_ca: TestCA, tmp_path: Path) -> Iterator[AcrSetup]:
    with open_acr(registry_ca, tmp_path / "acr") as setup:
        yield setup
