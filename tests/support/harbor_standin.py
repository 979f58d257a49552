"""A Harbor stand-in for tests: Harbor's API v2.0 subset, its token service and registry v2 subset.

Harbor cannot run here, so this models what the bot relies on: users
(system admin, project members with roles, a robot account), projects and
their repositories, and the rules docs/facts.md lists (Developer can push but not
delete; creating projects can be restricted to admins; the repository name is
URL-encoded twice in paths; CSRF is enforced when a session cookie comes back,
and every answer sets one).  Every `/api/v2.0` request and response is checked
against Harbor's swagger (`harbor_swagger.SwaggerSpec`); mismatches collect in
`violations`, and the fixture fails the test if there are any.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from tests.support.harbor_swagger import SwaggerSpec, load_spec
from tests.support.registry_httpserver import Request, Response, ThreadedHttpServer

ROLE_PROJECT_ADMIN, ROLE_DEVELOPER, ROLE_GUEST, ROLE_MAINTAINER = 1, 2, 3, 4
PUSH_ROLES = {ROLE_PROJECT_ADMIN, ROLE_DEVELOPER, ROLE_MAINTAINER}
DELETE_ROLES = {ROLE_PROJECT_ADMIN, ROLE_MAINTAINER}
MEMBER_ADMIN_ROLES = {ROLE_PROJECT_ADMIN}
PROJECT_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
NOW = "2026-01-01T00:00:00Z"
SERVICE = "harbor-registry"


@dataclass
class HarborUser:
    name: str
    password: str
    user_id: int
    sysadmin: bool = False
    robot_projects: dict[str, set[str]] | None = None  # robots: project -> actions
    # Robots: Unix seconds after which Harbor refuses the robot; -1 never (swagger: Robot).
    expires_at: int = -1
    # Robots: "system" (name `<prefix><name>`) or "project" (`<prefix><project>+<name>`,
    # its ProjectID that project's id); see HarborStandIn._op_ListRobot.
    robot_level: str = "system"
    robot_project_id: int = 0

    @property
    def robot(self) -> bool:
        return self.robot_projects is not None

    @property
    def expired(self) -> bool:
        return self.robot and self.expires_at >= 0 and self.expires_at <= time.time()


@dataclass
class HarborProject:
    project_id: int
    name: str
    public: bool
    owner: str
    members: dict[str, int] = field(default_factory=dict)
    repositories: dict[str, int] = field(default_factory=dict)  # name without project -> artifacts


def _errors(status: int, code: str, message: str) -> Response:
    return Response.json(status, {"errors": [{"code": code, "message": message}]})


class HarborStandIn:
    """`.url`, `.start()`, `.stop()`, `.violations`, plus state helpers for tests."""

    def __init__(
        self,
        spec: SwaggerSpec | None = None,
        *,
        admin_only_create: bool = False,
        robot_prefix: str = "robot$",
    ) -> None:
        self.spec = spec or load_spec()
        self.admin_only_create = admin_only_create
        # Harbor's `robot_name_prefix` setting (swagger Configurations), default `robot$`
        self.robot_prefix = robot_prefix
        self.violations: list[str] = []
        self.api_calls: list[tuple[str, str]] = []  # (operationId, raw target)
        self.users: dict[str, HarborUser] = {}
        self.projects: dict[str, HarborProject] = {}
        self.tokens: dict[str, tuple[str | None, dict[str, set[str]]]] = {}
        self._lock = threading.Lock()
        self._ids = 100
        self._server = ThreadedHttpServer(self._handle)
        self._seed()

    # -- state --------------------------------------------------------------

    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def add_user(
        self,
        name: str,
        password: str,
        *,
        sysadmin: bool = False,
        robot_projects: dict[str, set[str]] | None = None,
        expires_at: int = -1,
    ) -> HarborUser:
        user = HarborUser(name, password, self._next_id(), sysadmin, robot_projects, expires_at)
        self.users[name] = user
        return user

    def add_project_robot(
        self, project: str, name: str, password: str, actions: set[str], *, expires_at: int = -1
    ) -> HarborUser:
        """A project-level robot: Harbor shows it as `<prefix><project>+<name>` (Harbor docs,
        "Create Project Robot Accounts": `robot$<project>+<name>` with the default prefix;
        the prefix is the `robot_name_prefix` setting, swagger Configurations)."""
        robot = self.add_user(
            f"{self.robot_prefix}{project}+{name}",
            password,
            robot_projects={project: set(actions)},
            expires_at=expires_at,
        )
        robot.robot_level = "project"
        robot.robot_project_id = self.projects[project].project_id
        return robot

    def add_project(
        self,
        name: str,
        *,
        public: bool = False,
        owner: str = "admin",
        members: dict[str, int] | None = None,
    ) -> HarborProject:
        project = HarborProject(self._next_id(), name, public, owner, dict(members or {}))
        self.projects[name] = project
        return project

    def add_repository(self, project: str, name: str, artifacts: int = 1) -> None:
        self.projects[project].repositories[name] = artifacts

    def _seed(self) -> None:
        self.add_user("admin", "Harbor12345", sysadmin=True)
        self.add_user("maint", "maint-pass-1")
        self.add_user("dev", "dev-pass-1")
        self.add_user("guest", "guest-pass-1")
        self.add_user("newbie", "newbie-pass-1")
        self.add_user(
            f"{self.robot_prefix}ci", "robot-secret-1", robot_projects={"ci": {"pull", "push"}}
        )
        apps = self.add_project(
            "apps",
            members={
                "admin": ROLE_PROJECT_ADMIN,
                "maint": ROLE_MAINTAINER,
                "dev": ROLE_DEVELOPER,
                "guest": ROLE_GUEST,
            },
        )
        apps.repositories.update({"web": 2, "tools/builder": 1})
        self.add_project("library", public=True).repositories["base"] = 3
        self.add_project("ci").repositories["runner"] = 1

    # -- lifecycle ----------------------------------------------------------

    @property
    def url(self) -> str:
        return self._server.url

    @property
    def requests(self) -> list[Request]:
        return self._server.requests

    def start(self) -> None:
        self._server.start()

    def stop(self) -> None:
        self._server.stop()

    # -- helpers ------------------------------------------------------------

    def _basic(self, request: Request) -> tuple[HarborUser | None, bool]:
        """(user, credentials_were_sent_and_wrong)."""
        header = request.headers.get("authorization", "")
        if not header.lower().startswith("basic "):
            return None, False
        try:
            name, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return None, True
        user = self.users.get(name)
        if user is None or user.password != password or user.expired:
            return None, True  # Harbor refuses an expired robot like a wrong secret
        return user, False

    def rights(self, user: HarborUser | None, project_name: str) -> set[str]:
        project = self.projects.get(project_name)
        if project is None:
            return set()
        rights: set[str] = {"pull"} if project.public else set()
        if user is None:
            return rights
        if user.robot_projects is not None:
            return rights | user.robot_projects.get(project_name, set())
        if user.sysadmin:
            return rights | {"pull", "push", "delete", "admin"}
        role = project.members.get(user.name)
        if role is not None:
            rights.add("pull")
            if role in PUSH_ROLES:
                rights.add("push")
            if role in DELETE_ROLES:
                rights.add("delete")
            if role in MEMBER_ADMIN_ROLES:
                rights.add("admin")
        return rights

    def _project_json(self, project: HarborProject, user: HarborUser | None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "project_id": project.project_id,
            "owner_id": self.users[project.owner].user_id if project.owner in self.users else 1,
            "name": project.name,
            "creation_time": NOW,
            "update_time": NOW,
            "deleted": False,
            "owner_name": project.owner,
            "repo_count": len(project.repositories),
            "metadata": {"public": "true" if project.public else "false"},
        }
        if user is not None and user.name in project.members:
            data["current_user_role_ids"] = [project.members[user.name]]
        return data

    # -- dispatch -----------------------------------------------------------

    def _handle(self, request: Request) -> Response:
        with self._lock:
            path = request.raw_path
            if path.startswith("/api/"):
                response = self._api(request)
            elif path == "/service/token":
                response = self._token(request)
            elif path.startswith("/v2/"):
                response = self._registry(request)
            else:
                response = Response.text(404, "404 page not found")
        return response

    def _api(self, request: Request) -> Response:
        matched = self.spec.match(request.method, request.raw_path)
        if matched is None:
            self.violations.append(f"{request.method} {request.raw_path}: not in Harbor's swagger")
            return _errors(404, "NOT_FOUND", "no such API")
        op, path_params = matched
        self.api_calls.append((op.operation_id, request.target))
        problems = self.spec.validate_request(
            op, path_params, request.query, request.headers, request.body
        )
        if problems:
            self.violations.extend(problems)
            response = _errors(400, "BAD_REQUEST", "; ".join(problems)[:300])
        else:
            response = self._operation(op.operation_id, path_params, request)
        self.violations.extend(self.spec.validate_response(op, response.status, {}, response.body))
        response.headers.append(("Set-Cookie", f"sid={secrets.token_hex(8)}; Path=/; HttpOnly"))
        response.headers.append(("X-Request-Id", uuid.uuid4().hex))
        return response

    def _operation(self, operation: str, params: dict[str, str], request: Request) -> Response:
        if operation == "getPing":
            return Response.text(200, "Pong")
        user, wrong = self._basic(request)
        if wrong:
            return _errors(401, "UNAUTHORIZED", "invalid credentials")
        cookie = request.headers.get("cookie", "")
        if (
            "sid=" in cookie
            and request.method in ("POST", "PUT", "DELETE", "PATCH")
            and ("x-harbor-csrf-token" not in request.headers)
        ):
            return _errors(403, "FORBIDDEN", "CSRF token invalid")
        handler = getattr(self, f"_op_{operation}", None)
        if handler is None:
            self.violations.append(f"stand-in does not implement {operation}")
            return _errors(500, "UNKNOWN", "not implemented in the stand-in")
        response: Response = handler(params, request, user)
        return response

    # -- API operations -----------------------------------------------------

    def _op_getCurrentUserInfo(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        if user is None:
            return _errors(401, "UNAUTHORIZED", "unauthorized")
        if user.robot:
            return _errors(412, "PRECONDITION", "a robot account has no user profile")
        return Response.json(
            200,
            {
                "user_id": user.user_id,
                "username": user.name,
                "email": f"{user.name}@example.com",
                "realname": user.name,
                "comment": "",
                "sysadmin_flag": user.sysadmin,
                "admin_role_in_auth": False,
                "creation_time": NOW,
                "update_time": NOW,
            },
        )

    def _op_getCurrentUserPermissions(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        if user is None:
            return _errors(401, "UNAUTHORIZED", "unauthorized")
        scope = request.arg("scope") or ""
        match = re.fullmatch(r"/project/(\d+)", scope)
        project = next(
            (p for p in self.projects.values() if match and p.project_id == int(match.group(1))),
            None,
        )
        if project is None:
            return Response.json(200, [])
        perms = [
            {"resource": "repository", "action": a}
            for a in sorted(self.rights(user, project.name) & {"pull", "push", "delete"})
        ]
        return Response.json(200, perms)

    def _op_listProjects(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        name = (request.arg("name") or "").lower()
        page = int(request.arg("page") or 1)
        size = int(request.arg("page_size") or 10)
        visible = [
            p
            for p in sorted(self.projects.values(), key=lambda p: p.name)
            if name in p.name and "pull" in self.rights(user, p.name)
        ]
        chunk = visible[(page - 1) * size : page * size]
        return Response.json(
            200,
            [self._project_json(p, user) for p in chunk],
            [("X-Total-Count", str(len(visible)))],
        )

    def _op_ListRobot(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        """GET /robots (swagger ListRobot), as goharbor/harbor src/server/v2.0/handler/robot.go
        `ListRobot` (at commit 017132611e0d69a19c6e951b66b50949375d2ef6) does it:
        - `q` is Harbor's query string (`k=v`, `k=~v`, comma-separated; swagger `query`);
        - without a `Level` keyword only system robots are listed (`level = LEVELSYSTEM`,
          `ProjectID = 0`); `Level` must be `system` or `project` (400 otherwise), and
          `Level=project` needs `ProjectID`, an integer (400 "must with project ID when to
          query project robots" / "Project ID must be int type.");
        - access: system level needs the system robot-list permission (the system admin
          here); project level the project's robot-list permission, which the shipped
          project roles projectAdmin, maintainer, developer and guest hold (not
          limitedGuest; src/common/rbac/project role policies); 403 otherwise;
        - only visible robots; `name` filters the stored name, which is without the
          configurable prefix (`<project>+<name>` for project robots).
        """
        if user is None:
            return _errors(401, "UNAUTHORIZED", "unauthorized")
        keys: dict[str, str] = {}
        for part in (request.arg("q") or "").split(","):
            key, _, value = part.partition("=")
            if key.strip():
                keys[key.strip()] = value.strip()
        level, project_id = "system", 0
        if "Level" in keys:
            level = keys["Level"]
            if level not in ("system", "project"):
                return _errors(400, "BAD_REQUEST", "bad request error level input")
            if level == "project":
                if "ProjectID" not in keys:
                    return _errors(
                        400, "BAD_REQUEST", "must with project ID when to query project robots"
                    )
                if not keys["ProjectID"].isdigit():
                    return _errors(400, "BAD_REQUEST", "Project ID must be int type.")
                project_id = int(keys["ProjectID"])
        if level == "system":
            allowed = user.sysadmin
        else:
            project = next((p for p in self.projects.values() if p.project_id == project_id), None)
            allowed = user.sysadmin or (
                project is not None
                and project.members.get(user.name)
                in {ROLE_PROJECT_ADMIN, ROLE_MAINTAINER, ROLE_DEVELOPER, ROLE_GUEST}
            )
        if not allowed:
            return _errors(403, "FORBIDDEN", "forbidden")
        name = keys.get("name", "")
        fuzzy = name.startswith("~")
        wanted = name[1:] if fuzzy else name
        page = int(request.arg("page") or 1)
        size = int(request.arg("page_size") or 10)
        robots = []
        for robot in sorted(self.users.values(), key=lambda u: u.user_id):
            if not robot.robot or robot.robot_level != level:
                continue
            if level == "project" and robot.robot_project_id != project_id:
                continue
            stored = robot.name.removeprefix(self.robot_prefix)
            if wanted and not (wanted in stored if fuzzy else wanted == stored):
                continue
            robots.append(robot)
        chunk = robots[(page - 1) * size : page * size]
        return Response.json(
            200, [self._robot_json(r) for r in chunk], [("X-Total-Count", str(len(robots)))]
        )

    def _op_getProject(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        """GET /projects/{project_name_or_id}: by name with `X-Is-Resource-Name: true`."""
        key = params.get("project_name_or_id", "")
        by_name = request.headers.get("x-is-resource-name", "").lower() == "true"
        project = (
            self.projects.get(key)
            if by_name
            else next((p for p in self.projects.values() if str(p.project_id) == key), None)
        )
        if project is None:
            return _errors(404, "NOT_FOUND", f"project {key} not found")
        if "pull" not in self.rights(user, project.name):
            if user is None:
                return _errors(401, "UNAUTHORIZED", "unauthorized")
            return _errors(403, "FORBIDDEN", "forbidden")
        return Response.json(200, self._project_json(project, user))

    def _robot_json(self, robot: HarborUser) -> dict[str, Any]:
        days = -1
        if robot.expires_at >= 0:
            days = max(1, int((robot.expires_at - time.time()) // 86400) + 1)
        return {
            "id": robot.user_id,
            "name": robot.name,
            "description": "",
            "level": robot.robot_level,
            "duration": days,
            "editable": True,
            "disable": False,
            "expires_at": robot.expires_at,
            "permissions": [
                {
                    "kind": "project",
                    "namespace": project,
                    "access": [
                        {"resource": "repository", "action": action, "effect": "allow"}
                        for action in sorted(actions)
                    ],
                }
                for project, actions in sorted((robot.robot_projects or {}).items())
            ],
            "creator_type": "local",
            "creator_ref": 1,
            "creation_time": NOW,
            "update_time": NOW,
        }

    def _op_headProject(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        name = request.arg("project_name") or ""
        return Response(200 if name in self.projects else 404)

    def _op_createProject(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        if user is None:
            return _errors(401, "UNAUTHORIZED", "unauthorized")
        body = request.json()
        name = body.get("project_name", "")
        if not PROJECT_NAME_RE.match(name):
            return _errors(400, "BAD_REQUEST", "invalid project name")
        if user.robot or (self.admin_only_create and not user.sysadmin):
            return _errors(403, "FORBIDDEN", "only admins can create projects")
        if name in self.projects:
            return _errors(409, "CONFLICT", f"the project named {name} already exists")
        public = (body.get("metadata") or {}).get("public") == "true"
        project = self.add_project(
            name, public=public, owner=user.name, members={user.name: ROLE_PROJECT_ADMIN}
        )
        return Response(201, b"", [("Location", f"/api/v2.0/projects/{project.project_id}")])

    def _project_param(self, params: dict[str, str], request: Request) -> HarborProject | None:
        key = params.get("project_name_or_id") or params.get("project_name") or ""
        by_name = request.headers.get("x-is-resource-name") == "true" or not key.isdigit()
        if by_name:
            return self.projects.get(key)
        return next((p for p in self.projects.values() if p.project_id == int(key)), None)

    def _op_createProjectMember(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        if user is None:
            return _errors(401, "UNAUTHORIZED", "unauthorized")
        project = self._project_param(params, request)
        if project is None:
            return _errors(403, "FORBIDDEN", "no such project or no access")
        if "admin" not in self.rights(user, project.name):
            return _errors(403, "FORBIDDEN", "only project admins add members")
        body = request.json()
        member = (body.get("member_user") or {}).get("username")
        if member not in self.users:
            return _errors(400, "BAD_REQUEST", f"user {member} not found")
        if member in project.members:
            return _errors(409, "CONFLICT", "already a member")
        project.members[member] = int(body.get("role_id", ROLE_GUEST))
        return Response(
            201, b"", [("Location", f"/api/v2.0/projects/{project.project_id}/members/1")]
        )

    def _op_listRepositories(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        project = self.projects.get(params["project_name"])
        if project is None:
            return _errors(404, "NOT_FOUND", "project not found")
        if "pull" not in self.rights(user, project.name):
            if user is None:
                return _errors(401, "UNAUTHORIZED", "unauthorized")
            return _errors(403, "FORBIDDEN", "forbidden")
        repos = [
            {
                "id": i + 1,
                "project_id": project.project_id,
                "name": f"{project.name}/{name}",
                "artifact_count": count,
                "pull_count": 0,
                "creation_time": NOW,
                "update_time": NOW,
            }
            for i, (name, count) in enumerate(sorted(project.repositories.items()))
        ]
        return Response.json(200, repos, [("X-Total-Count", str(len(repos)))])

    def _op_deleteRepository(
        self,
        params: dict[str, str],
        request: Request,
        user: HarborUser | None,
    ) -> Response:
        if user is None:
            return _errors(401, "UNAUTHORIZED", "unauthorized")
        project = self.projects.get(params["project_name"])
        name = unquote(params["repository_name"])  # Harbor unescapes once more after routing
        if project is None or name not in project.repositories:
            return _errors(404, "NOT_FOUND", f"repository {name} not found")
        if "delete" not in self.rights(user, project.name):
            return _errors(403, "FORBIDDEN", "forbidden")
        del project.repositories[name]
        return Response(200)

    # -- token service and registry API -------------------------------------

    def _token(self, request: Request) -> Response:
        user, wrong = self._basic(request)
        if wrong:
            return _errors(401, "UNAUTHORIZED", "invalid credentials")
        access: dict[str, set[str]] = {}
        for scope in request.query.get("scope", []):
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            if kind != "repository" or "/" not in name:
                continue
            project = name.split("/", 1)[0]
            access[name] = set(actions.split(",")) & self.rights(user, project)
        token = secrets.token_urlsafe(24)
        self.tokens[token] = (user.name if user else None, access)
        return Response.json(
            200,
            {"token": token, "expires_in": 1800, "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ")},
        )

    def _challenge(self, scope: str = "", error: str = "") -> list[tuple[str, str]]:
        value = f'Bearer realm="{self.url}/service/token",service="{SERVICE}"'
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        return [("WWW-Authenticate", value), ("Docker-Distribution-Api-Version", "registry/2.0")]

    def _registry(self, request: Request) -> Response:
        path = request.raw_path
        header = request.headers.get("authorization", "")
        grant = self.tokens.get(header[7:]) if header.startswith("Bearer ") else None
        if path == "/v2/":
            if grant is None:
                return Response.json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, self._challenge())
            return Response.json(200, {}, [("Docker-Distribution-Api-Version", "registry/2.0")])
        for pattern, action in (
            (r"^/v2/(.+)/tags/list$", "pull"),
            (r"^/v2/(.+)/blobs/uploads/$", "push"),
            (r"^/v2/(.+)/blobs/uploads/[^/]+$", "push"),
        ):
            match = re.match(pattern, path)
            if match:
                return self._registry_call(request, match.group(1), action, grant)
        return _errors(404, "NOT_FOUND", "not in the stand-in")

    def _registry_call(
        self,
        request: Request,
        name: str,
        action: str,
        grant: tuple[str | None, dict[str, set[str]]] | None,
    ) -> Response:
        scope = f"repository:{name}:{action}"
        if grant is None:
            return Response.json(
                401, {"errors": [{"code": "UNAUTHORIZED"}]}, self._challenge(scope)
            )
        if action not in grant[1].get(name, set()):
            return Response.json(
                401,
                {
                    "errors": [
                        {"code": "UNAUTHORIZED", "message": "unauthorized to access repository"}
                    ]
                },
                self._challenge(scope, "insufficient_scope"),
            )
        project, _, repo = name.partition("/")
        if request.method == "GET":
            if repo not in self.projects[project].repositories:
                return Response.json(
                    404,
                    {
                        "errors": [
                            {
                                "code": "NAME_UNKNOWN",
                                "message": "repository name not known to registry",
                            }
                        ]
                    },
                )
            return Response.json(200, {"name": name, "tags": ["latest"]})
        if request.method == "POST":
            location = f"/v2/{name}/blobs/uploads/{uuid.uuid4()}"
            return Response(202, b"", [("Location", location), ("Range", "0-0")])
        if request.method == "DELETE":
            return Response(204)
        return _errors(405, "UNSUPPORTED", "unsupported")
