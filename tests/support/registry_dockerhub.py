"""A Docker Hub stand-in: a real token-auth registry, a Hub-like token service and Hub API.

- Registry: Debian's `docker-registry` with token auth, service `registry.docker.io`.
- Token service: like auth.docker.io it hands out tokens for any name, but
  grants nothing on repositories that do not exist, so the registry answers
  401, not 404, for them (docker/hub-feedback#1771); a read-only account that
  asks for push is refused outright (docker/cli#4511).
- Hub API: `POST /v2/auth/token`, `HEAD /v2/namespaces/{ns}/repositories/{repo}`
  and `DELETE /v2/repositories/{ns}/{repo}/`.
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
