"""Google Artifact Registry for tests, all on loopback.

- A token endpoint named by the key's `token_uri`: it validates the signed JWT
  assertion with the public half of an RSA key made by the test, then mints an
  access token.  Each new token replaces the last in the registry's token
  server (user `oauth2accesstoken`), so a reused old token fails visibly.
- A real token-auth docker-registry behind tests/support/token_server.py.
- The Artifact Registry API calls the bot makes (repositories.create and .get,
  packages.delete, operations.get), accepting only the current access token.
  create and delete answer a long-running Operation (REST reference,
  cloud.google.com/artifact-registry/docs/reference/rest/v1/projects.locations
  .repositories/create: "The returned Operation will finish once the repository has
  been created. Its response will be the created Repository."; packages.delete: "the
  response body contains an instance of Operation"); the change happens when the
  operation finishes, which `operations.get` (`GET /v1/{name=projects/*/locations/*/
  operations/*}`) reports as `done: true` with `response` or `error` (google.rpc.Status
  `{code, message}`), per google.longrunning.Operation.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.auth import jwt

from tests.support.certs import TestCA
from tests.support.registry_httpserver import Request, Response, ThreadedHttpServer
from tests.support.registry_server import RegistryServer, skip_or_fail_without_registry
from tests.support.token_server import TokenServer, TokenUser

CLIENT_EMAIL = "pusher@acme-prod.iam.gserviceaccount.com"
LOCATION = "europe-west1"
SEED_PASSWORD = "seed-pass-1"  # pushes test images
_PACKAGE = re.compile(
    r"^/v1/projects/([^/]+)/locations/([^/]+)/repositories/([^/]+)/packages/([^/]+)$"
)
_CREATE = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/repositories$")
_REPOSITORY = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/repositories/([^/]+)$")
_OPERATION = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/operations/[^/]+)$")


@dataclass
class PendingOperation:
    """A long-running operation: `apply` runs when it finishes (unless it fails)."""

    name: str
    apply: Callable[[], dict[str, Any]]
    polls_left: int
    error: tuple[int, str] | None = None
    done: bool = False
    result: dict[str, Any] = field(default_factory=dict)


class GoogleStandIn:
    """The token endpoint and the Artifact Registry API, on one loopback server."""

    def __init__(self, token_server: TokenServer, lifetime: int = 3600) -> None:
        self.token_server = token_server
        self.lifetime = lifetime
        self.private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.public_pem = (
            self.private_key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        self.minted: list[str] = []
        self.rejected_assertions = 0
        self.repositories: set[tuple[str, str, str]] = set()
        self.packages: set[tuple[str, str, str, str]] = set()
        self.writer = True  # False: the service account lacks artifactregistry.writer
        self.operations: dict[str, PendingOperation] = {}
        self.polls_until_done = 1  # operations.get calls before an operation is done
        # the next operations finish with this google.rpc.Status (code, message)
        self.fail_operations: tuple[int, str] | None = None
        self._lock = threading.Lock()
        self.server = ThreadedHttpServer(self._handle)

    @property
    def token_uri(self) -> str:
        return f"{self.server.url}/token"

    def key_json(self, private_key: rsa.RSAPrivateKey | None = None) -> str:
        pem = (
            (private_key or self.private_key)
            .private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            .decode()
        )
        return json.dumps(
            {
                "type": "service_account",
                "project_id": "acme-prod",
                "private_key_id": "0123456789abcdef",
                "private_key": pem,
                "client_email": CLIENT_EMAIL,
                "client_id": "1234567890",
                "token_uri": self.token_uri,
            }
        )

    def _grants(self) -> dict[str, set[str]]:
        return {"*": {"pull", "push"} if self.writer else {"pull"}}

    def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs(request.body.decode()).items()}
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return Response.json(400, {"error": "unsupported_grant_type"})
        try:
            claims = jwt.decode(
                form.get("assertion", ""), certs=self.public_pem, audience=self.token_uri
            )
        except ValueError:
            with self._lock:
                self.rejected_assertions += 1
            return Response.json(
                400, {"error": "invalid_grant", "error_description": "Invalid JWT Signature."}
            )
        if claims.get("iss") != CLIENT_EMAIL or "cloud-platform" not in claims.get("scope", ""):
            return Response.json(400, {"error": "invalid_scope"})
        token = f"ya29.test-{secrets.token_urlsafe(24)}"
        with self._lock:
            self.minted.append(token)
            self.token_server.users["oauth2accesstoken"] = TokenUser(token, self._grants())
        return Response.json(
            200, {"access_token": token, "expires_in": self.lifetime, "token_type": "Bearer"}
        )

    def _api(self, request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        if not self.minted or auth != f"Bearer {self.minted[-1]}":
            return Response.json(401, {"error": {"code": 401, "status": "UNAUTHENTICATED"}})
        if request.method == "POST" and (m := _CREATE.match(request.raw_path)):
            repo = (m[1], m[2], request.arg("repositoryId") or "")
            body: Any = request.json()
            if body.get("format") != "DOCKER":
                return Response.json(400, {"error": {"status": "INVALID_ARGUMENT"}})
            if repo in self.repositories:
                return Response.json(409, {"error": {"code": 409, "status": "ALREADY_EXISTS"}})
            return self._start(m[1], m[2], lambda: self._created(repo))
        if request.method == "GET" and (m := _OPERATION.match(request.raw_path)):
            return self._poll(m[1])
        if request.method == "GET" and (m := _REPOSITORY.match(request.raw_path)):
            if (m[1], m[2], m[3]) not in self.repositories:
                return Response.json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
            return Response.json(200, {"name": request.raw_path[4:], "format": "DOCKER"})
        if request.method == "DELETE" and (m := _PACKAGE.match(request.raw_path)):
            package = (m[1], m[2], m[3], unquote(m[4]))
            if package not in self.packages:
                return Response.json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
            return self._start(m[1], m[2], lambda: self._deleted(package))
        return Response.json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})

    def _created(self, repo: tuple[str, str, str]) -> dict[str, Any]:
        self.repositories.add(repo)
        return {"name": f"projects/{repo[0]}/locations/{repo[1]}/repositories/{repo[2]}"}

    def _deleted(self, package: tuple[str, str, str, str]) -> dict[str, Any]:
        self.packages.discard(package)
        return {}  # google.protobuf.Empty

    def _start(self, project: str, location: str, apply: Callable[[], dict[str, Any]]) -> Response:
        name = f"projects/{project}/locations/{location}/operations/{secrets.token_hex(8)}"
        pending = PendingOperation(name, apply, self.polls_until_done, self.fail_operations)
        self.operations[name] = pending
        if pending.polls_left <= 0:
            self._finish(pending)
        return Response.json(200, self._operation_json(pending))

    def _finish(self, pending: PendingOperation) -> None:
        pending.done = True
        if pending.error is None:
            pending.result = pending.apply()

    def _poll(self, name: str) -> Response:
        pending = self.operations.get(name)
        if pending is None:
            return Response.json(404, {"error": {"code": 404, "status": "NOT_FOUND"}})
        if not pending.done:
            pending.polls_left -= 1
            if pending.polls_left <= 0:
                self._finish(pending)
        return Response.json(200, self._operation_json(pending))

    @staticmethod
    def _operation_json(pending: PendingOperation) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": pending.name,
            "metadata": {"@type": "type.googleapis.com/google.devtools.artifactregistry.v1"
                         ".OperationMetadata"},
            "done": pending.done,
        }  # fmt: skip
        if pending.done and pending.error is not None:
            body["error"] = {"code": pending.error[0], "message": pending.error[1]}
        elif pending.done:
            body["response"] = pending.result
        return body

    def _handle(self, request: Request) -> Response:
        if request.raw_path == "/token" and request.method == "POST":
            return self._token(request)
        return self._api(request)


class GarSetup:
    def __init__(self, google: GoogleStandIn, registry: RegistryServer) -> None:
        self.google = google
        self.registry = registry

    @property
    def api_url(self) -> str:
        return self.google.server.url


@contextlib.contextmanager
def open_gar(ca: TestCA, workdir: Path) -> Iterator[GarSetup]:
    """The token endpoint + API stand-in and a token-auth registry, on loopback."""
    skip_or_fail_without_registry()
    token_server = TokenServer(
        ca=ca, users={"seed": TokenUser(SEED_PASSWORD, {"*": {"pull", "push"}})}
    )
    token_server.start()
    google = GoogleStandIn(token_server)
    google.server.start()
    registry = RegistryServer(workdir, token_server=token_server)
    try:
        registry.start()
        yield GarSetup(google, registry)
    finally:
        registry.stop()
        google.server.stop()
        token_server.stop()


@pytest.fixture
def gar(registry_ca: TestCA, tmp_path: Path) -> Iterator[GarSetup]:
    with open_gar(registry_ca, tmp_path / "gar") as setup:
        yield setup
