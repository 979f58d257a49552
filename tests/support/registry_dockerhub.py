"""A Docker Hub stand-in: a real token-auth registry, a Hub-like token service and Hub API.

- Registry: Debian's `docker-registry` with token auth, service `registry.docker.io`.
- Token service: like auth.docker.io it hands out tokens for any name, but
  grants nothing on repositories that do not exist, so the registry answers
  401, not 404, for them (docker/hub-feedback#1771); a read-only account that
  asks for push is refused outright (docker/cli#4511).
- Hub API: `POST /v2/auth/token`, `HEAD /v2/namespaces/{ns}/repositories/{repo}`,
  `POST /v2/namespaces/{ns}/repositories` and `DELETE /v2/repositories/{ns}/{repo}/`.
  Create (Docker Hub API reference, "Create a new repository", CreateRepository, and its
  `repo_creation_request` schema: `name` 2-255 characters matching
  `^[a-z0-9]+(?:[._-][a-z0-9]+)*$`, `namespace`, `description`, `is_private`): 201 with the
  repository; the owner of the namespace only (403 for others, 401 without a token). The
  reference does not spell out the answer for a name that is taken; this stand-in answers
  400 with a message saying it exists (the Hub's long-standing wording), and the driver
  also takes 409.
- Pull quota (docs.docker.com, "Docker Hub usage and limits" / pull rate limit headers):
  manifest requests through the registry front carry `ratelimit-limit: N;w=21600`,
  `ratelimit-remaining: M;w=21600` and `docker-ratelimit-source`; a manifest `GET` is a
  pull and spends one, a `HEAD` does not.
- `rate_limit(seconds)`: the token service answers 429 with `ratelimit-*` and
  `Retry-After`, the Hub API with `X-RateLimit-Reset` (a Unix time), as Docker Hub does.

Accounts: `hubuser` / `hub-pass-1` owns the `hubuser/` namespace (pull, push,
delete); `hubreader` / `dckr_pat_readonly1` is a read-only token of the same
namespace; anonymous users pull public repositories.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import jwt

from tests.support.api_registry import RegistryBehindApi
from tests.support.certs import TestCA
from tests.support.registry_httpserver import Request, Response, ThreadedHttpServer
from tests.support.registry_server import RegistryServer
from tests.support.token_server import TokenServer, TokenUser

HUB_USER = ("hubuser", "hub-pass-1")
HUB_READER = ("hubreader", "dckr_pat_readonly1")
_ADMIN = ("hub-internal-admin", secrets.token_hex(8))


@dataclass
class HubRepository:
    owner: str
    private: bool = False


class DockerHubStandIn(RegistryBehindApi):
    """`.registry_url`, `.api_url`, `.add_repository()`, `.rate_limit()`, `.start()/.stop()`."""

    def __init__(self, ca: TestCA, workdir: Path) -> None:
        self.repositories: dict[str, HubRepository] = {}
        self.rate_limited_until: float | None = None
        self.hub_tokens: dict[str, str] = {}
        self.token_server = TokenServer(
            ca,
            users={
                HUB_USER[0]: TokenUser(HUB_USER[1]),
                HUB_READER[0]: TokenUser(HUB_READER[1]),
                _ADMIN[0]: TokenUser(_ADMIN[1]),
            },
            service="registry.docker.io",
            issuer="auth.docker.io",
            grant=self._grant,
            strict_push=True,
        )
        self.registry = RegistryServer(workdir / "hub-registry", token_server=self.token_server)
        self.api = ThreadedHttpServer(self._api)
        # registry-1.docker.io: the registry behind a front that adds the pull-quota headers
        self.front = ThreadedHttpServer(self._front)
        self.pull_limit = 100
        self.pull_window = 21600  # seconds (6 h)
        self.pulls: dict[str, int] = {}  # ratelimit source (account or anonymous) -> pulls

    @property
    def registry_url(self) -> str:
        return self.front.url

    def start(self) -> None:
        super().start()
        self.front.start()

    def stop(self) -> None:
        self.front.stop()
        super().stop()

    def pulls_left(self, source: str) -> int:
        return max(0, self.pull_limit - self.pulls.get(source, 0))

    def _front(self, request: Request) -> Response:
        """Pass a registry request on; manifest answers carry the quota of its source."""
        keep = {"authorization", "accept", "content-type"}
        with httpx.Client(timeout=10) as http:
            answer = http.request(
                request.method,
                f"{self.registry.url}{request.target}",
                headers={k: v for k, v in request.headers.items() if k in keep},
                content=request.body,
            )
        passed = {"www-authenticate", "location", "content-type", "docker-content-digest"}
        passed |= {"docker-upload-uuid", "range", "link", "docker-distribution-api-version"}
        headers = [
            (k, v.replace(self.registry.url, self.front.url))
            for k, v in answer.headers.items()
            if k.lower() in passed
        ]
        if "/manifests/" in request.raw_path and answer.status_code in (200, 404):
            source = self._source(request)
            if request.method == "GET" and answer.status_code == 200:
                self.pulls[source] = self.pulls.get(source, 0) + 1
            window = f";w={self.pull_window}"
            headers += [
                ("ratelimit-limit", f"{self.pull_limit}{window}"),
                ("ratelimit-remaining", f"{self.pulls_left(source)}{window}"),
                ("docker-ratelimit-source", source),
            ]
        body = b"" if request.method == "HEAD" else answer.content
        if request.method == "HEAD" and "content-length" in answer.headers:
            headers.append(("Content-Length", answer.headers["content-length"]))
        return Response(answer.status_code, body, headers)

    @staticmethod
    def _source(request: Request) -> str:
        """Whose quota: the token's subject (an account) or anonymous (an IP on Docker Hub)."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("bearer "):
            return "anonymous"
        try:
            claims = jwt.decode(header[7:], options={"verify_signature": False})
        except jwt.PyJWTError:
            return "anonymous"
        return str(claims.get("sub") or "anonymous")

    def rate_limit(self, seconds: float) -> None:
        self.rate_limited_until = time.time() + seconds
        self.token_server.rate_limited_for(seconds)

    def add_repository(self, name: str, *, private: bool = False, tag: str = "latest") -> str:
        """Register a repository and push an image into it; returns the manifest digest."""
        owner = name.split("/", 1)[0]
        self.repositories[name] = HubRepository(owner=owner, private=private)
        return self.registry.client(*_ADMIN).push_image(name, tag)

    # -- token service rules ------------------------------------------------

    def _grant(self, user: str | None, name: str, requested: set[str]) -> set[str]:
        if user == _ADMIN[0]:
            self.repositories.setdefault(name, HubRepository(owner=name.split("/", 1)[0]))
            return requested
        repo = self.repositories.get(name)
        if repo is None:
            return set()
        rights = set() if repo.private else {"pull"}
        if user == HUB_USER[0] and repo.owner == HUB_USER[0]:
            rights |= {"pull", "push", "delete"}
        if user == HUB_READER[0] and repo.owner == HUB_USER[0]:
            rights |= {"pull"}
        return rights

    # -- Hub API ------------------------------------------------------------

    def _limited(self) -> Response | None:
        if self.rate_limited_until is None or time.time() >= self.rate_limited_until:
            return None
        reset = int(self.rate_limited_until)
        return Response.json(
            429,
            {"message": "Too Many Requests"},
            [
                ("X-RateLimit-Limit", "180"),
                ("X-RateLimit-Remaining", "0"),
                ("X-RateLimit-Reset", str(reset)),
                ("Retry-After", str(max(1, reset - int(time.time())))),
            ],
        )

    def _bearer_user(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        return self.hub_tokens.get(header[7:]) if header.startswith("Bearer ") else None

    def _api(self, request: Request) -> Response:
        limited = self._limited()
        if limited is not None:
            return limited
        path = request.raw_path
        if path == "/v2/auth/token" and request.method == "POST":
            try:
                body = json.loads(request.body or b"{}")
            except ValueError:
                return Response.json(400, {"message": "invalid JSON"})
            accounts = {HUB_USER[0]: HUB_USER[1], HUB_READER[0]: HUB_READER[1]}
            if accounts.get(body.get("identifier")) != body.get("secret"):
                return Response.json(401, {"message": "Incorrect authentication credentials"})
            token = "hub-" + secrets.token_urlsafe(24)
            self.hub_tokens[token] = body["identifier"]
            return Response.json(200, {"access_token": token})
        match = re.fullmatch(r"/v2/namespaces/([^/]+)/repositories/([^/]+)", path)
        if match and request.method in ("HEAD", "GET"):
            name = f"{match.group(1)}/{match.group(2)}"
            repo = self.repositories.get(name)
            user = self._bearer_user(request)
            visible = repo is not None and (not repo.private or user in (repo.owner, HUB_READER[0]))
            return Response.json(
                200 if visible else 404, {"name": match.group(2)} if visible else {}
            )
        match = re.fullmatch(r"/v2/namespaces/([^/]+)/repositories", path)
        if match and request.method == "POST":
            return self._create(match.group(1), request)
        match = re.fullmatch(r"/v2/repositories/([^/]+)/([^/]+)/", path)
        if match and request.method == "DELETE":
            user = self._bearer_user(request)
            if user is None:
                return Response.json(401, {"message": "authentication required"})
            name = f"{match.group(1)}/{match.group(2)}"
            repo = self.repositories.get(name)
            if repo is None:
                return Response.json(404, {"message": "object not found"})
            if user != repo.owner:
                return Response.json(403, {"message": "insufficient scope"})
            del self.repositories[name]
            return Response(202)
        return Response.json(404, {"message": "not found"})

    def _create(self, namespace: str, request: Request) -> Response:
        user = self._bearer_user(request)
        if user is None:
            return Response.json(401, {"message": "authentication required"})
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return Response.json(400, {"message": "invalid JSON"})
        name = body.get("name")
        if (
            not isinstance(name, str)
            or not 2 <= len(name) <= 255
            or not re.fullmatch(r"[a-z0-9]+(?:[._-][a-z0-9]+)*", name)
            or body.get("namespace", namespace) != namespace
        ):
            return Response.json(400, {"message": "invalid repository name"})
        if user != namespace:  # hubreader's token is read-only; others own other namespaces
            return Response.json(403, {"message": "insufficient scope"})
        full = f"{namespace}/{name}"
        if full in self.repositories:
            return Response.json(
                400, {"message": "Repository with this Name and Namespace already exists."}
            )
        self.repositories[full] = HubRepository(
            owner=namespace, private=bool(body.get("is_private"))
        )
        return Response.json(
            201,
            {"name": name, "namespace": namespace, "is_private": bool(body.get("is_private"))},
        )
