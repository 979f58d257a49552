"""Stand-ins for GitHub, GitLab and Quay, each in front of a real docker-registry.

Each has three loopback servers, as in production where they are different
hosts: the registry (Debian's `docker-registry`, token auth), a token service
on its own port (GitLab's is its API host: `/jwt/auth` on the GitLab stand-in),
and the provider's API.  The token service grants what the provider would
(GitHub: the token's package scopes and ownership; GitLab: scopes and project
role; Quay: robot/user permissions), and every API request and answer is
checked against tests/contracts/hosted-apis.json (`contract.problems`).
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self
from urllib.parse import unquote

import httpx

from tests.support.api_registry import RegistryBehindApi
from tests.support.certs import TestCA
from tests.support.hosted_contracts import Contract
from tests.support.registry_httpserver import Request, Response, ThreadedHttpServer
from tests.support.registry_server import MANIFEST_V2, RegistryServer
from tests.support.token_server import TokenServer, TokenUser

_ADMIN = ("standin-admin", secrets.token_hex(8))


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    return header[7:] if header.lower().startswith("bearer ") else None


class _Base(RegistryBehindApi):
    """A registry + token service + API server; subclasses give `_grant` and `_api`."""

    provider = ""
    service = "registry"

    def __init__(self, ca: TestCA, workdir: Path, users: dict[str, str]) -> None:
        self.contract = Contract(self.provider)
        self.users = users  # registry username -> password/token
        self.token_server = TokenServer(
            ca,
            users={
                **{name: TokenUser(password) for name, password in users.items()},
                _ADMIN[0]: TokenUser(_ADMIN[1]),
            },
            service=self.service,
            grant=self._grant_any,
        )
        self.api = ThreadedHttpServer(self._checked)
        self.registry = RegistryServer(workdir / f"{self.provider}-registry", token_server=self)  # type: ignore[arg-type]
        self.digests: dict[str, list[str]] = {}
        # Every API request as (method, path, the token it carried: GitLab's PRIVATE-TOKEN
        # or a Bearer), so a test can tell whose account the bot spent.
        self.api_log: list[tuple[str, str, str | None]] = []

    @contextmanager
    def running(self) -> Iterator[Self]:
        """Started for a test, stopped after it; then fails the test if any API request or
        answer broke the provider's published contract."""
        self.start()
        try:
            yield self
        finally:
            self.stop()
        assert self.contract.problems == []

    # the registry config needs `realm`, `service`, `issuer`, `ca`: the realm may be ours
    @property
    def realm(self) -> str:
        return self.token_server.realm

    @property
    def issuer(self) -> str:
        return self.token_server.issuer

    @property
    def ca(self) -> TestCA:
        return self.token_server.ca

    def push(self, repository: str, tag: str = "latest") -> str:
        digest = self.registry.client(*_ADMIN).push_image(repository, tag)
        self.digests.setdefault(repository, []).append(digest)
        return digest

    def tags(self, repository: str) -> list[str] | None:
        return self.registry.client(*_ADMIN).tags(repository)

    def remove_images(self, repository: str) -> None:
        """What the provider does on delete: the repository's manifests go from the registry."""
        client = self.registry.client(*_ADMIN)
        with httpx.Client(timeout=10) as http:
            auth = client._auth(http, repository, "pull,delete")
            for digest in self.digests.pop(repository, []):
                http.delete(
                    f"{client.url}/v2/{repository}/manifests/{digest}",
                    headers={**auth, "Accept": MANIFEST_V2},
                )

    def _grant_any(self, user: str | None, name: str, requested: set[str]) -> set[str]:
        if user == _ADMIN[0]:
            return requested
        return self._grant(user, name, requested) & requested

    def _grant(self, user: str | None, name: str, requested: set[str]) -> set[str]:
        raise NotImplementedError

    def _api(self, request: Request) -> Response:
        raise NotImplementedError

    def _checked(self, request: Request) -> Response:
        token = request.headers.get("private-token") or _bearer(request)
        self.api_log.append((request.method, request.raw_path, token))
        response = self._api(request)
        self.contract.check(request, response)
        return response

    def _proxy(self, request: Request) -> Response:
        """Quay serves the registry and its API on one host: pass `/v2/` on to the registry."""
        keep = {"authorization", "accept", "content-type"}
        with httpx.Client(timeout=10) as http:
            answer = http.request(
                request.method,
                f"{self.registry.url}{request.target}",
                headers={k: v for k, v in request.headers.items() if k in keep},
                content=request.body,
            )
        passed = {"www-authenticate", "location", "content-type", "docker-content-digest"}
        passed |= {"docker-upload-uuid", "range", "link"}
        headers = [
            (k, v.replace(self.registry.url, self.api.url))
            for k, v in answer.headers.items()
            if k.lower() in passed
        ]
        return Response(answer.status_code, answer.content, headers)


# -- GitHub -------------------------------------------------------------------


@dataclass
class GitHubToken:
    login: str
    token: str
    scopes: set[str]
    expires: str | None = "2026-12-24 12:00:00 UTC"


@dataclass
class GitHubPackage:
    owner: str
    name: str
    org: bool
    admins: set[str] = field(default_factory=set)  # accounts given the package's admin role


def _gh_error(status: int, message: str) -> Response:
    return Response.json(
        status, {"message": message, "documentation_url": "https://docs.github.com/rest"}
    )


class GitHubStandIn(_Base):
    """GHCR + GitHub's REST API. Org `acme` has admin `octo`; user `mona` owns packages of
    her own (she may give other accounts the package's admin role); `octo`'s token has every
    package scope, `reader`'s only read:packages, `pusher`'s read+write, `deleter`'s only
    delete:packages, `noscope`'s none.

    Rules, from GitHub's REST reference (docs.github.com/rest/packages/packages):
    - packages are addressed per owner kind: `/user/packages/...` (the token's own),
      `/orgs/{org}/packages/...` (an organisation's), `/users/{username}/packages/...`
      (another user's); the wrong kind of path finds nothing (404);
    - `GET /users/{username}` (docs.github.com/rest/users/users#get-a-user) answers the
      account with `type` `User` or `Organization`, 404 for an unknown one;
    - deleting a package: "OAuth app tokens and personal access tokens (classic) need the
      read:packages and delete:packages scopes" (each of the three delete operations), and
      the account must be an admin of the package ("granular permissions" registries, which
      include the Container registry); `write:packages` carries `read:packages` (GitHub's
      token page selects read with write, so such tokens list both).
    """

    provider = "github"
    service = "ghcr.io"

    def __init__(self, ca: TestCA, workdir: Path) -> None:
        self.tokens = {
            t.login: t
            for t in (
                GitHubToken(
                    "octo",
                    "ghp_octo" + secrets.token_hex(8),
                    {"read:packages", "write:packages", "delete:packages"},
                ),
                GitHubToken("reader", "ghp_read" + secrets.token_hex(8), {"read:packages"}),
                GitHubToken("pusher", "ghp_push" + secrets.token_hex(8), {"write:packages"}),
                GitHubToken("deleter", "ghp_del" + secrets.token_hex(8), {"delete:packages"}),
                GitHubToken("noscope", "ghp_none" + secrets.token_hex(8), {"repo"}),
            )
        }
        self.org_members = {"acme": {"octo", "reader", "pusher", "deleter", "noscope"}}
        self.org_admins = {"acme": {"octo"}}
        self.other_users = {"mona"}  # accounts without a token here
        self.packages: dict[str, GitHubPackage] = {}
        super().__init__(ca, workdir, {t.login: t.token for t in self.tokens.values()})

    def credentials(self, login: str) -> tuple[str, str]:
        return login, self.tokens[login].token

    def add_package(self, repository: str, *, admins: tuple[str, ...] = ()) -> None:
        owner, name = repository.split("/", 1)
        self.packages[repository] = GitHubPackage(
            owner, name, owner in self.org_members, set(admins)
        )
        self.push(repository)

    def _account_type(self, login: str) -> str | None:
        if login in self.org_members:
            return "Organization"
        if login in self.tokens or login in self.other_users:
            return "User"
        return None

    def _may_see(self, login: str, repository: str) -> bool:
        owner = repository.split("/", 1)[0]
        package = self.packages.get(repository)
        return (
            login == owner
            or login in self.org_members.get(owner, set())
            or (package is not None and login in package.admins)
        )

    def _is_admin(self, login: str, package: GitHubPackage) -> bool:
        return (
            login == package.owner
            or login in self.org_admins.get(package.owner, set())
            or login in package.admins
        )

    def _grant(self, user: str | None, name: str, requested: set[str]) -> set[str]:
        if user is None:
            return set()  # every package here is private: GHCR answers anonymous pulls 403
        token = self.tokens[user]
        if not self._may_see(user, name):
            return set()
        rights: set[str] = set()
        if token.scopes & {"read:packages", "write:packages", "delete:packages"}:
            rights.add("pull")
        if "write:packages" in token.scopes:
            rights.add("push")
        return rights

    def _user(self, request: Request) -> GitHubToken | None:
        token = _bearer(request)
        return next((t for t in self.tokens.values() if t.token == token), None)

    def _package_of(self, user: GitHubToken, path: str) -> tuple[str, str] | None:
        """(owner, name) the path addresses, or None when its owner kind is wrong."""
        own = re.fullmatch(r"/user/packages/([^/]+)/([^/]+)", path)
        if own:
            return user.login, unquote(own.group(2))
        org = re.fullmatch(r"/orgs/([^/]+)/packages/[^/]+/([^/]+)", path)
        if org:
            owner = unquote(org.group(1))
            return (
                (owner, unquote(org.group(2)))
                if self._account_type(owner) == ("Organization")
                else None
            )
        other = re.fullmatch(r"/users/([^/]+)/packages/[^/]+/([^/]+)", path)
        if other:
            owner = unquote(other.group(1))
            return (
                (owner, unquote(other.group(2))) if self._account_type(owner) == ("User") else None
            )
        return None

    def _api(self, request: Request) -> Response:
        user = self._user(request)
        if user is None:
            return _gh_error(401, "Bad credentials")
        path = request.raw_path
        if path == "/user" and request.method == "GET":
            headers = [("X-OAuth-Scopes", ", ".join(sorted(user.scopes)))]
            if user.expires:
                headers.append(("GitHub-Authentication-Token-Expiration", user.expires))
            return Response.json(200, {"login": user.login, "id": 1, "type": "User"}, headers)
        account = re.fullmatch(r"/users/([^/]+)", path)
        if account and request.method == "GET":
            login = unquote(account.group(1))
            kind = self._account_type(login)
            if kind is None:
                return _gh_error(404, "Not Found")
            return Response.json(200, {"login": login, "id": 2, "type": kind})
        addressed = self._package_of(user, path)
        if addressed is None:
            return _gh_error(404, "Not Found")
        owner, name = addressed
        repository = f"{owner}/{name}"
        package = self.packages.get(repository)
        if package is None or not self._may_see(user.login, repository):
            return _gh_error(404, "Package not found.")
        if request.method == "GET":
            return Response.json(
                200,
                {
                    "id": 7,
                    "name": name,
                    "package_type": "container",
                    "url": f"{self.api_url}/packages/{name}",
                    "html_url": f"https://github.com/{owner}/packages/{name}",
                    "visibility": "private",
                    "created_at": "2026-01-01T00:00:00Z",
                    "updated_at": "2026-01-01T00:00:00Z",
                },
            )
        if request.method == "DELETE":
            readable = user.scopes & {"read:packages", "write:packages"}
            if not readable or "delete:packages" not in user.scopes:
                return _gh_error(403, "You need at least read:packages and delete:packages scopes.")
            if not self._is_admin(user.login, package):
                return _gh_error(403, "You must be an admin of the package to delete it.")
            del self.packages[repository]
            self.remove_images(repository)
            return Response(204)
        return _gh_error(404, "Not Found")


# -- GitLab -------------------------------------------------------------------


@dataclass
class GitLabToken:
    name: str
    token: str
    scopes: list[str]
    role: int = 40  # access level in every project
    expires_at: str | None = "2026-12-24"


@dataclass
class GitLabProject:
    id: int
    path: str
    repositories: dict[str, int] = field(default_factory=dict)  # registry path -> id


class GitLabStandIn(_Base):
    """GitLab: its API and its token service (`/jwt/auth`) on one host, the registry on
    another.  Users (registry username = token name): `maint` (api, Maintainer), `dev`
    (read/write_registry, Developer), `readonly` (read_registry), `readapi` (read_api only,
    Reporter), `gitlab+deploy-token-1` (a deploy token with read/write_registry; the API
    does not know it)."""

    provider = "gitlab"
    service = "container_registry"

    def __init__(self, ca: TestCA, workdir: Path) -> None:
        self.tokens = {
            t.name: t
            for t in (
                GitLabToken("maint", "glpat-maint" + secrets.token_hex(6), ["api"]),
                GitLabToken(
                    "dev",
                    "glpat-dev" + secrets.token_hex(6),
                    ["read_registry", "write_registry"],
                    30,
                ),
                GitLabToken("readonly", "glpat-ro" + secrets.token_hex(6), ["read_registry"], 20),
                GitLabToken("readapi", "glpat-ra" + secrets.token_hex(6), ["read_api"], 20),
            )
        }
        self.deploy = ("gitlab+deploy-token-1", "gldt-" + secrets.token_hex(8))
        self.projects: dict[str, GitLabProject] = {}
        self._ids = itertools.count(100)
        users = {t.name: t.token for t in self.tokens.values()}
        users[self.deploy[0]] = self.deploy[1]
        super().__init__(ca, workdir, users)

    @property
    def realm(self) -> str:
        return f"{self.api.url}/jwt/auth"  # GitLab's token realm is on the GitLab host

    def credentials(self, name: str) -> tuple[str, str]:
        if name == self.deploy[0]:
            return self.deploy
        return name, self.tokens[name].token

    def add_project(self, path: str) -> GitLabProject:
        project = GitLabProject(next(self._ids), path)
        self.projects[path] = project
        return project

    def add_repository_record(self, project_path: str, image: str) -> str:
        """A registry repository GitLab lists for the project, with no image pushed (enough
        to fill pages of `GET /projects/:id/registry/repositories`)."""
        repository = f"{project_path}/{image}"
        self.projects[project_path].repositories[repository] = next(self._ids)
        return repository

    def add_image(self, project_path: str, image: str = "") -> str:
        project = self.projects[project_path]
        repository = f"{project_path}/{image}" if image else project_path
        project.repositories[repository] = next(self._ids)
        self.push(repository)
        return repository

    def _project_of(self, repository: str) -> GitLabProject | None:
        parts = repository.split("/")
        for n in range(len(parts), 1, -1):
            found = self.projects.get("/".join(parts[:n]))
            if found:
                return found
        return None

    def _grant(self, user: str | None, name: str, requested: set[str]) -> set[str]:
        if user is None or self._project_of(name) is None:
            return set()
        if user == self.deploy[0]:
            return {"pull", "push"}
        token = self.tokens[user]
        rights: set[str] = set()
        # gitlabhq lib/gitlab/auth.rb `abilities_for_scopes` (a current version, read through
        # the reference index as file id 458597443; older ones such as commit 1f75a144 predate
        # read_api): api -> full_authentication_abilities; read_api ->
        # read_only_authentication_abilities = read_only_project_authentication_abilities +
        # [:read_container_image]; read_registry -> [:read_container_image]; write_registry
        # -> [:create_container_image] (push also needs Developer, ContainerRegistry auth).
        if {"read_registry", "read_api", "api"} & set(token.scopes):
            rights.add("pull")
        if {"write_registry", "api"} & set(token.scopes) and token.role >= 30:
            rights.add("push")
        return rights

    def _jwt(self, request: Request) -> Response:
        # GitLab's /jwt/auth is the token service; hand the request to the real one.
        forwarded = Request(
            request.method,
            request.target.replace("/jwt/auth", "/token", 1),
            request.headers,
            request.body,
        )
        return self.token_server._handle(forwarded)

    def _checked(self, request: Request) -> Response:
        if request.raw_path == "/jwt/auth":
            return self._jwt(request)
        return super()._checked(request)

    def _api(self, request: Request) -> Response:
        secret = request.headers.get("private-token")
        token = next((t for t in self.tokens.values() if t.token == secret), None)
        if token is None:
            return Response.json(401, {"message": "401 Unauthorized"})
        path = request.raw_path
        if path == "/api/v4/personal_access_tokens/self" and request.method == "GET":
            return Response.json(
                200,
                {
                    "id": 1,
                    "name": token.name,
                    "revoked": False,
                    "active": True,
                    "scopes": token.scopes,
                    "expires_at": token.expires_at,
                    "created_at": "2026-01-01T00:00:00.000Z",
                    "description": None,
                    "user_id": 5,
                    "last_used_at": None,
                    "last_used_ips": [],
                },
            )
        match = re.fullmatch(r"/api/v4/projects/([^/]+)(/registry/repositories(?:/(\d+))?)?", path)
        if match is None:
            return Response.json(404, {"message": "404 Not Found"})
        key = unquote(match.group(1))
        project = self.projects.get(key) or next(
            (p for p in self.projects.values() if str(p.id) == key), None
        )
        if project is None:
            return Response.json(404, {"message": "404 Project Not Found"})
        if match.group(2) is None and request.method == "GET":
            return Response.json(
                200,
                {
                    "id": project.id,
                    "path_with_namespace": project.path,
                    "permissions": {
                        "project_access": {"access_level": token.role, "notification_level": 3},
                        "group_access": None,
                    },
                },
            )
        if match.group(3) is None and request.method == "GET":
            return self._repositories_page(request, project)
        if match.group(3) is not None and request.method == "DELETE":
            rid = int(match.group(3))
            found = next((p for p, i in project.repositories.items() if i == rid), None)
            if found is None:
                return Response.json(404, {"message": "404 Repository Not Found"})
            if "api" not in token.scopes or token.role < 40:
                return Response.json(403, {"message": "403 Forbidden"})
            del project.repositories[found]
            self.remove_images(found)
            # `status :accepted` in lib/api/project_container_repositories.rb: 202, although
            # openapi_v2.yaml says 204 (see tests/contracts/README.md).
            return Response(202, b"", [("Content-Type", "application/json")])
        return Response.json(404, {"message": "404 Not Found"})

    def _repositories_page(self, request: Request, project: GitLabProject) -> Response:
        """`GET /projects/:id/registry/repositories`, paginated as GitLab paginates.

        lib/api/project_container_repositories.rb ends the route with
        `present paginate(repositories)`; offset pagination (doc/api/rest/_index.md,
        "Pagination"): `page` from 1, `per_page` default 20 and at most 100, answers carry
        `X-Page`, `X-Per-Page`, `X-Next-Page`/`X-Prev-Page` (empty when none), `X-Total`,
        `X-Total-Pages` and a `Link` header with `rel="next"`/`"prev"`/`"first"`/`"last"`.
        Order: by id (creation order).
        """
        per_page = min(max(int(request.arg("per_page") or 20), 1), 100)
        page = max(int(request.arg("page") or 1), 1)
        rows = sorted(project.repositories.items(), key=lambda item: item[1])
        pages = max((len(rows) + per_page - 1) // per_page, 1)
        chunk = rows[(page - 1) * per_page : page * per_page]
        base = f"{self.api.url}{request.raw_path}?per_page={per_page}"
        links = [f'<{base}&page=1>; rel="first"', f'<{base}&page={pages}>; rel="last"']
        if page < pages:
            links.insert(0, f'<{base}&page={page + 1}>; rel="next"')
        headers = [
            ("X-Page", str(page)),
            ("X-Per-Page", str(per_page)),
            ("X-Next-Page", str(page + 1) if page < pages else ""),
            ("X-Prev-Page", str(page - 1) if page > 1 else ""),
            ("X-Total", str(len(rows))),
            ("X-Total-Pages", str(pages)),
            ("Link", ", ".join(links)),
        ]
        body = [
            {
                "id": rid,
                "name": path_.removeprefix(project.path).lstrip("/"),
                "path": path_,
                "project_id": project.id,
                "location": f"registry.example/{path_}",
                "created_at": "2026-01-01T00:00:00.000Z",
                "cleanup_policy_started_at": None,
                "status": None,
            }
            for path_, rid in chunk
        ]
        return Response.json(200, body, headers)


# -- Quay ---------------------------------------------------------------------


class QuayStandIn(_Base):
    """Quay: registry + API on one host in production (here the API has its own port, the
    registry URL is configured as the API host through `api_url`).  Accounts: robot
    `acme+ci` (read/write on acme/*), `$oauthtoken` with `admin_token` (org admin of acme,
    every scope), `$oauthtoken` with `repo_token` (an OAuth token of the same admin granted
    only `repo:create` and `repo:admin`: no `user:read`).

    Rules, from quay/quay:
    - an unknown bearer token is refused on every API path (401): `auth/decorators.py`
      `process_oauth` validates the token before any resource runs;
    - `GET /api/v1/user/` (`getLoggedInUser`, endpoints/api/user.py) raises InvalidToken
      (401) unless `UserReadPermission` holds, which an OAuth token has only with the
      `user:read` scope;
    - `GET /api/v1/repository` (`listRepos`, endpoints/api/repository.py) needs one of
      namespace, starred or public (else 400) and answers `{"repositories": [...]}`;
    - repository paths are `<apirepopath:repository>`, regex `([^/]+(/[^/]+)+)`: nested
      names (`acme/team/app`) are allowed, `FEATURE_EXTENDED_REPOSITORY_NAMES = True` in
      config.py (read through the reference index, file ids 1426029916 and 2900973422);
    - create needs `repo:create`, delete `repo:admin` (`require_scope` on createRepo,
      `require_repo_admin` on deleteRepository); our `acme` org admin has both.
    """

    provider = "quay"
    service = "quay.io"

    def __init__(self, ca: TestCA, workdir: Path) -> None:
        self.robot = ("acme+ci", "ROBOTTOKEN" + secrets.token_hex(8))
        self.admin_token = "quay-admin-" + secrets.token_hex(8)
        self.repo_token = "quay-repo-" + secrets.token_hex(8)
        self.scopes = {
            self.admin_token: {"user:read", "repo:read", "repo:write", "repo:admin", "repo:create"},
            self.repo_token: {"repo:create", "repo:admin"},
        }
        self.repositories: set[str] = set()
        super().__init__(ca, workdir, {self.robot[0]: self.robot[1]})
        self.token_server.users["$oauthtoken"] = TokenUser(
            self.admin_token, other_passwords=frozenset({self.repo_token})
        )

    def add_repository(self, name: str) -> None:
        self.repositories.add(name)
        self.push(name)

    def _grant(self, user: str | None, name: str, requested: set[str]) -> set[str]:
        if user is None or not name.startswith("acme/"):
            return set()
        return {"pull", "push"} if name in self.repositories else {"push"}

    @property
    def registry_url(self) -> str:
        return self.api.url  # the API host fronts the registry, as quay.io does

    def _checked(self, request: Request) -> Response:
        if request.raw_path.startswith("/v2"):
            return self._proxy(request)
        return super()._checked(request)

    def _api(self, request: Request) -> Response:
        scopes = self.scopes.get(_bearer(request) or "")
        if scopes is None:
            return Response.json(401, {"error_message": "Invalid token", "status": 401})
        path = request.raw_path
        if path == "/api/v1/user/" and request.method == "GET":
            if "user:read" not in scopes:
                return Response.json(
                    401,
                    {"error_message": "Requires authentication", "error_type": "invalid_token",
                     "status": 401},
                )  # fmt: skip
            return Response.json(200, {"username": "acme-admin", "anonymous": False})
        if path == "/api/v1/repository" and request.method == "GET":
            namespace = request.arg("namespace")
            if not (namespace or request.arg("starred") or request.arg("public")):
                return Response.json(
                    400,
                    {"error_message": "namespace, starred or public are required for this API "
                     "call", "status": 400},
                )  # fmt: skip
            shown = sorted(
                r for r in self.repositories if namespace and r.startswith(f"{namespace}/")
            )
            return Response.json(
                200,
                {"repositories": [{"namespace": r.split("/", 1)[0], "name": r.split("/", 1)[1]}
                                  for r in shown]},
            )  # fmt: skip
        if path == "/api/v1/repository" and request.method == "POST":
            body = json.loads(request.body or b"{}")
            name = f"{body.get('namespace')}/{body.get('repository')}"
            if name in self.repositories:
                return Response.json(
                    400, {"error_message": "Repository already exists", "status": 400}
                )
            if body.get("namespace") != "acme" or "repo:create" not in scopes:
                return Response.json(403, {"error_message": "Unauthorized", "status": 403})
            self.repositories.add(name)
            return Response.json(201, {"namespace": body["namespace"], "name": body["repository"]})
        match = re.fullmatch(r"/api/v1/repository/([^/]+(?:/[^/]+)+)", path)
        if match is None:
            return Response.json(404, {"error_message": "Not Found", "status": 404})
        name = unquote(match.group(1))
        if name not in self.repositories:
            return Response.json(404, {"error_message": "Not Found", "status": 404})
        if request.method == "GET":
            ns, repo = name.split("/", 1)
            return Response.json(200, {"namespace": ns, "name": repo})
        if request.method == "DELETE":
            if "repo:admin" not in scopes:
                return Response.json(403, {"error_message": "Unauthorized", "status": 403})
            self.repositories.discard(name)
            self.remove_images(name)
            return Response(204)
        return Response.json(404, {"error_message": "Not Found", "status": 404})
