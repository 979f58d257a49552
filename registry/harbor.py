"""Harbor (a registered tool): its REST API v2.0 for projects, plus the v2 registry API.

Access checks use the registry protocol on the tool's URL like any registry;
the Harbor API adds what the protocol lacks: ping, the current user, project
existence, "create new" (Harbor has no empty repositories, so creating means
creating the project; the repository appears on first push), project and
repository lists, and repository deletion.

Choices (see docs/facts.md): when the saved user may not create projects (403) and
the registered tool has its own credentials, the tool's account creates the
project and adds the saved user as a member: Maintainer (role 4) for app
repositories, because Harbor's Developer role can push but cannot delete, and
"delete in IR" must work; Guest (role 3) for pull-only repositories.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from registry.drivers import Driver, Location, Operation, ToolCheckBase
from registry.errors import ErrorKind, RegistryError, refusal
from registry.hostedapi import JsonApi, json_dict, json_list
from registry.http import HttpResponse, Service, confirms_deletion
from registry.kinds import RegistryType
from registry.oci import describe_codes, login_error, namespaced
from registry.results import STEP_AUTHENTICATED, STEP_REACHABLE
from registry.target import Credentials, RegisteredTool, RepositoryTarget, TlsOptions
from registry.urlguard import RegistryUrl, parse_url

API = "/api/v2.0"
# Harbor's robot names: `<prefix><name>` (system level) and `<prefix><project>+<name>`
# (project level); the prefix is Harbor's `robot_name_prefix` setting (default `robot$`),
# so it is read off the user name as given (see robot_identity), never assumed.
_MAX_ROBOT_PAGES = 10
PROJECT_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
ROLE_PROJECT_ADMIN = 1
ROLE_DEVELOPER = 2
ROLE_GUEST = 3
ROLE_MAINTAINER = 4
ROLE_NAMES = {1: "Project Admin", 2: "Developer", 3: "Guest", 4: "Maintainer"}
MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class RobotIdentity:
    """What a robot's user name says: its level and, for a project robot, the project."""

    level: str  # "project" or "system"
    project: str | None
    stored_name: str  # the name without the prefix, as Harbor filters on it


def robot_identity(username: str, project: str | None) -> RobotIdentity | None:
    """A Harbor robot as named: `<prefix><project>+<name>` for the entry's project (a
    project robot, whatever the prefix), else `<prefix>$<name>`-style (a system robot
    whose prefix ends in `$`, as the default `robot$` does); None for anything else."""
    if project:
        marker = f"{project}+"
        at = username.find(marker)
        if at > 0 and len(username) > at + len(marker):
            return RobotIdentity("project", project, username[at:])
    if "$" in username:
        prefix, _, rest = username.partition("$")
        if prefix and rest:
            return RobotIdentity("system", None, rest)
    return None


def split_repository(repository: str) -> tuple[str, str]:
    """`project/name[/more]` -> (`project`, `name[/more]`), validated."""
    clean = namespaced(
        repository, "Harbor repositories are named project/name; {name} has no project part."
    )
    project, rest = clean.split("/", 1)
    if not PROJECT_NAME_RE.match(project):
        raise RegistryError(
            ErrorKind.INVALID_REPOSITORY,
            f"{project!r} is not a valid Harbor project name (lower-case letters and digits, "
            "separated by single . _ or -).",
        )
    return project, rest


def encode_repository(name: str) -> str:
    """Harbor unescapes path fields once more after routing: `a/b` -> `a%252Fb`."""
    return quote(quote(name, safe=""), safe="")


class HarborApi(JsonApi):
    """Harbor REST API v2.0 as one user (or anonymously): HTTP Basic on every request."""

    def __init__(
        self, op: Operation, base: RegistryUrl, tls: TlsOptions, credentials: Credentials | None
    ) -> None:
        auth: dict[str, str] = {}
        if credentials is not None:
            raw = f"{credentials.username}:{credentials.secret}".encode()
            auth["Authorization"] = "Basic " + base64.b64encode(raw).decode("ascii")
        super().__init__(
            op,
            base,
            tls,
            name="Harbor",
            auth_headers=auth,
            secret=None,
            service=Service(f"Harbor at {base.base}"),
            prefix=API,
        )
        self.credentials = credentials
        op.remember(credentials)

    @property
    def who(self) -> str:
        return f"user {self.credentials.username}" if self.credentials else "anonymous access"

    def error(self, response: HttpResponse, what: str) -> RegistryError:
        """Classify a failed Harbor API answer to `what` (a phrase: "create project x")."""
        codes = describe_codes(response)
        if response.status == 401:
            return login_error(self.service, self.credentials, f"a login to {what}")
        if response.status == 403:
            return RegistryError(
                ErrorKind.PERMISSION_DENIED, f"Permission denied: {self.who} may not {what}{codes}."
            )
        return self.unexpected(response, what, codes)

    async def ping(self) -> None:
        response = await self.request("GET", "/ping", headers={"Accept": "text/plain"})
        if response.status == 200:
            return
        if response.status != 429 and response.status < 500:
            raise RegistryError(
                ErrorKind.NOT_A_REGISTRY,
                f"No Harbor API v2.0 at {self.base.base}: GET {API}/ping answered HTTP "
                f"{response.status}.",
            )
        raise self.error(response, "answer a ping")

    async def current_user(self) -> dict[str, Any] | None:
        """The user's profile, or None for a robot account (Harbor answers 412 to robots)."""
        response = await self.request("GET", "/users/current")
        if response.status == 200:
            try:
                data = response.json()
            except ValueError:
                raise RegistryError(
                    ErrorKind.PROTOCOL,
                    f"{self.service.capitalised} answered GET {API}/users/current with non-JSON.",
                ) from None
            return data if isinstance(data, dict) else {}
        if response.status == 412:
            return None
        raise self.error(response, "read the current user")

    async def project_id(self, project: str) -> int | None:
        """The project's id (`GET /projects/{name}` with `X-Is-Resource-Name: true`), or None
        when Harbor will not say (missing, or not visible to this account)."""
        response = await self.request(
            "GET", f"/projects/{project}", headers={"X-Is-Resource-Name": "true"}
        )
        if response.status != 200:
            return None
        found = json_dict(response).get("project_id")
        return found if isinstance(found, int) and not isinstance(found, bool) else None

    async def project_exists(self, project: str) -> bool:
        response = await self.request("HEAD", "/projects", params=[("project_name", project)])
        if response.status == 200:
            return True
        if response.status == 404:
            return False
        raise self.error(response, f"look up project {project}")

    async def create_project(self, project: str) -> None:
        response = await self.request(
            "POST",
            "/projects",
            json_body={"project_name": project, "metadata": {"public": "false"}},
        )
        if response.status == 201:
            return
        if response.status == 409:
            raise RegistryError(
                ErrorKind.ALREADY_EXISTS,
                f"Harbor project {project} already exists at {self.base.base}.",
            )
        raise self.error(response, f"create project {project}")

    async def add_member(self, project: str, username: str, role_id: int) -> bool:
        """Add a user to a project; False if the user already is a member."""
        response = await self.request(
            "POST",
            f"/projects/{quote(project, safe='')}/members",
            headers={"X-Is-Resource-Name": "true"},
            json_body={"role_id": role_id, "member_user": {"username": username}},
        )
        if response.status == 201:
            return True
        if response.status == 409:
            return False
        raise self.error(response, f"add {username} to project {project}")

    async def list_projects(self, query: str = "") -> list[str]:
        params = [
            ("page", "1"),
            ("page_size", str(MAX_PAGE_SIZE)),
            ("sort", "name"),
            ("with_detail", "false"),
        ]
        if query.strip():
            params.append(("name", query.strip()))
        response = await self.request("GET", "/projects", params=params)
        if response.status != 200:
            raise self.error(response, "list projects")
        return _names(response, "name")

    async def list_repositories(self, project: str) -> list[str]:
        response = await self.request(
            "GET",
            f"/projects/{quote(project, safe='')}/repositories",
            params=[("page", "1"), ("page_size", str(MAX_PAGE_SIZE))],
        )
        if response.status == 404:
            raise RegistryError(ErrorKind.REPOSITORY_NOT_FOUND, f"Harbor has no project {project}.")
        if response.status != 200:
            raise self.error(response, f"list the repositories of project {project}")
        return _names(response, "name")

    async def delete_repository(self, project: str, name: str) -> None:
        response = await self.request(
            "DELETE", f"/projects/{quote(project, safe='')}/repositories/{encode_repository(name)}"
        )
        if confirms_deletion(response, (200,)):
            return
        raise refusal(
            response.status,
            {
                404: (
                    ErrorKind.REPOSITORY_NOT_FOUND,
                    f"Harbor project {project} has no repository {name} "
                    "(or the project does not exist).",
                ),
                403: (
                    ErrorKind.PERMISSION_DENIED,
                    f"Permission denied: {self.who} may not delete repositories in project "
                    f"{project} (Harbor's Developer role can push but not delete; it needs "
                    "Maintainer or Project Admin).",
                ),
                412: (
                    ErrorKind.PERMISSION_DENIED,
                    f"Harbor refused to delete {project}/{name}: it holds images protected by "
                    "an immutable tag rule.",
                ),
            },
        ) or self.error(response, f"delete {project}/{name}")


def _names(response: HttpResponse, key: str) -> list[str]:
    names = [item[key] for item in json_list(response) if isinstance(item.get(key), str)]
    return names[:MAX_PAGE_SIZE]


def tool_base(tool: RegisteredTool) -> RegistryUrl:
    return parse_url(tool.url, what="Harbor URL")


class ToolCheck(ToolCheckBase):
    """Test a registered Harbor tool: ping, then the tool's credentials."""

    async def run(self) -> None:
        base = tool_base(self.tool)
        api = HarborApi(self.op, base, self.tool.tls, self.tool.credentials)
        await api.ping()
        self.passed(STEP_REACHABLE, f"Harbor API v2.0 at {base.base} answered")
        if self.tool.credentials is None:
            self.passed(STEP_AUTHENTICATED, "no credentials: public projects only")
            return
        user = await api.current_user()
        if user is None:
            # robots get 412 from /users/current; a project list proves their secret
            response = await api.request(
                "GET", "/projects", params=[("page", "1"), ("page_size", "1")]
            )
            if response.status != 200:
                raise api.error(response, "list projects")
            detail = f"robot account {self.tool.credentials.username} accepted"
        else:
            admin = " (system admin)" if user.get("sysadmin_flag") else ""
            detail = f"logged in as {self.tool.credentials.username}{admin}"
        self.passed(STEP_AUTHENTICATED, detail)


class HarborDriver(Driver):
    type = RegistryType.HARBOR
    label = "Harbor's registry"

    def locate(self, target: RepositoryTarget) -> Location:
        if target.tool is not None:
            base = tool_base(target.tool)
            tls = target.tool.tls
        else:
            base = parse_url(target.registry_url, what="Harbor URL")
            tls = target.tls
        project, rest = split_repository(target.repository)
        return Location(base, tls, f"{project}/{rest}")

    async def reconsider_pull(
        self, op: Operation, target: RepositoryTarget, location: Location, error: RegistryError
    ) -> str | RegistryError:
        """Harbor has no empty repositories: an app repository needs only its project."""
        if error.kind not in (ErrorKind.REPOSITORY_NOT_FOUND, ErrorKind.PERMISSION_DENIED):
            return error
        project, rest = location.repository.split("/", 1)
        api = HarborApi(op, location.base, location.tls, target.credentials)
        try:
            exists = await api.project_exists(project)
        except RegistryError:
            return error
        if not exists:
            return RegistryError(
                ErrorKind.REPOSITORY_NOT_FOUND, f"Harbor has no project {project}."
            )
        if error.kind is ErrorKind.PERMISSION_DENIED:
            return error
        if target.pull_only:
            return RegistryError(
                ErrorKind.REPOSITORY_NOT_FOUND,
                f"Harbor project {project} has no repository {rest} yet; a pull-only repository "
                "needs images in it.",
            )
        return f"project {project} exists; {rest} appears there on first push"

    async def credential_expiry(
        self, op: Operation, target: RepositoryTarget
    ) -> tuple[bool, datetime | None]:
        """A robot account's `expires_at` (Unix seconds, -1: never) from GET /robots.

        Harbor's ListRobot (src/server/v2.0/handler/robot.go) lists system robots unless
        the query says `Level=project,ProjectID=N`, so a project robot
        (`<prefix><project>+<name>`) is looked up in its project's list.  Listing needs
        the robot-list permission, which a robot itself rarely has: the registered tool's
        account (usually an admin) asks when there is one, else the robot's own.  A
        401/403 or no match: unknown, not an error (the connection test decides health).
        """
        credentials = target.credentials
        if credentials is None:
            return False, None
        location = self.locate(target)
        project = location.repository.split("/", 1)[0]
        robot = robot_identity(credentials.username, project)
        if robot is None:
            return False, None
        asker = target.tool.credentials if target.tool is not None else credentials
        api = HarborApi(op, location.base, location.tls, asker)
        if robot.level == "project":
            project_id = await api.project_id(project)
            if project_id is None:
                return False, None
            query = f"Level=project,ProjectID={project_id}"
        else:
            query = f"name=~{robot.stored_name}"
        for page in range(1, _MAX_ROBOT_PAGES + 1):
            response = await api.request(
                "GET",
                "/robots",
                params=[("q", query), ("page", str(page)), ("page_size", str(MAX_PAGE_SIZE))],
            )
            if response.status != 200:
                return False, None
            robots = json_list(response)
            for entry in robots:
                if entry.get("name") not in (credentials.username, robot.stored_name):
                    continue
                expires = entry.get("expires_at")
                if not isinstance(expires, int) or isinstance(expires, bool):
                    return False, None
                if expires < 0:
                    return True, None
                return True, datetime.fromtimestamp(expires, UTC)
            if len(robots) < MAX_PAGE_SIZE:
                break
        return False, None

    async def create(self, op: Operation, target: RepositoryTarget) -> str:
        location = self.locate(target)
        project, rest = location.repository.split("/", 1)
        tool_credentials = target.tool.credentials if target.tool else None
        creator = target.credentials or tool_credentials
        api = HarborApi(op, location.base, location.tls, creator)
        try:
            await api.create_project(project)
        except RegistryError as exc:
            can_escalate = (
                exc.kind is ErrorKind.PERMISSION_DENIED
                and tool_credentials is not None
                and tool_credentials != creator
            )
            if not can_escalate:
                raise
        else:
            return f"Created Harbor project {project}; {rest} appears there on first push."
        assert tool_credentials is not None
        admin = HarborApi(op, location.base, location.tls, tool_credentials)
        await admin.create_project(project)
        user = target.credentials
        if user is None:
            return f"Created Harbor project {project} with the registered tool's account."
        if robot_identity(user.username, project) is not None:
            return (
                f"Created Harbor project {project} with the registered tool's account; grant the "
                f"robot account {user.username} access to it in Harbor before pushing."
            )
        role = ROLE_GUEST if target.pull_only else ROLE_MAINTAINER
        await admin.add_member(project, user.username, role)
        return (
            f"Created Harbor project {project} with the registered tool's account and made "
            f"{user.username} a {ROLE_NAMES[role]} of it; {rest} appears there on first push."
        )

    async def namespaces(self, op: Operation, tool: RegisteredTool, query: str) -> list[str]:
        """The projects the tool's account sees (the add modal's project picker)."""
        api = HarborApi(op, tool_base(tool), tool.tls, tool.credentials)
        return await api.list_projects(query)

    async def repositories(self, op: Operation, tool: RegisteredTool, namespace: str) -> list[str]:
        api = HarborApi(op, tool_base(tool), tool.tls, tool.credentials)
        return await api.list_repositories(namespace)

    async def delete(self, op: Operation, target: RepositoryTarget) -> None:
        location = self.located(target)
        project, rest = location.repository.split("/", 1)
        api = HarborApi(op, location.base, location.tls, target.credentials)
        await api.delete_repository(project, rest)
