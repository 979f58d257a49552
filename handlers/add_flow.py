"""The add-repository modal's behaviour, shared by its actions and its submission."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.models.views import View

from bot.runtime import Runtime
from bot.usecases import projects, tools
from bot.usecases.actor import Actor
from bot.usecases.forms import Creation, RepositoryForm
from bot.usecases.tools import ToolInfo
from handlers import ids
from handlers.payload import block_text, checked_values, row_id, selected_value, text_value
from handlers.ui.repository_form import AddMeta, add_modal
from registry import RegistryType, type_info
from storage.enums import RepositoryAccess


@dataclass(frozen=True)
class AddContext:
    """What rebuilding the modal needs besides its metadata (read once per request)."""

    project_name: str
    tools: Sequence[ToolInfo]
    dockerhub_url: str

    def build(
        self,
        meta: AddMeta,
        *,
        url_check: str | None = None,
        test_result: str | None = None,
        status: str | None = None,
    ) -> View:
        return add_modal(
            meta,
            project_name=self.project_name,
            tools=self.tools,
            dockerhub_url=self.dockerhub_url,
            url_check=url_check,
            test_result=test_result,
            status=status,
        )


async def load_context(rt: Runtime, actor: Actor, channel_id: str) -> AddContext:
    """What the add modal of `channel_id`'s project shows besides its metadata."""
    project = await projects.get_project(rt, team_id=actor.team_id, channel_id=channel_id)
    registered = await tools.list_tools(rt, actor)
    return AddContext(
        project_name=project.name,
        tools=registered,
        dockerhub_url=rt.settings.dockerhub_registry_url,
    )


def meta_of(view: Mapping[str, Any] | None) -> AddMeta | None:
    if not view or view.get("callback_id") != ids.VIEW_ADD:
        return None
    try:
        return AddMeta.load(str(view.get("private_metadata") or ""))
    except ValueError:
        return None


def read_form(view: Mapping[str, Any], meta: AddMeta) -> RepositoryForm:
    """The form as typed; values of blocks the current type does not show are ignored."""
    registry_type = selected_value(view, ids.B_TYPE, ids.A_TYPE) or meta.registry_type
    try:
        info = type_info(registry_type)
    except ValueError:
        info = type_info(RegistryType.IMAGE_REGISTRY)
    creation = Creation.EXISTING
    if info.can_create:
        chosen = selected_value(view, ids.B_CREATION, ids.A_CREATION) or meta.creation
        creation = Creation(chosen) if chosen in (c.value for c in Creation) else Creation.EXISTING
    tool_id: int | None = None
    repository = text_value(view, ids.B_REPOSITORY, ids.A_REPOSITORY).strip()
    if info.needs_registered_tool:
        tool_value = selected_value(view, ids.B_TOOL, ids.A_TOOL)
        tool_id = row_id(tool_value or "")
        project = selected_value(view, ids.B_HARBOR_PROJECT, ids.A_HARBOR_PROJECT)
        if (
            project
            and creation is Creation.EXISTING
            and repository
            and not repository.startswith(f"{project}/")
        ):
            repository = f"{project}/{repository}"
    elif info.takes_registered_tool:
        # An optional tool of the same type (the use case checks the type).
        tool_id = row_id(selected_value(view, ids.B_TOOL, ids.A_TOOL) or "")
    registry_url = (
        text_value(view, ids.B_REGISTRY_URL, ids.A_REGISTRY_URL).strip() or None
        if info.has_url_check
        else None
    )
    ca_bundle = (
        text_value(view, ids.B_CA_BUNDLE, ids.A_CA_BUNDLE).strip() or None
        if info.has_url_check
        else None
    )
    options = checked_values(view, ids.B_OPTIONS, ids.A_OPTIONS)
    return RepositoryForm(
        access=RepositoryAccess(meta.access),
        registry_type=info.type.value,
        repository=repository,
        creation=creation,
        tool_id=tool_id,
        registry_url=registry_url,
        username=text_value(view, ids.B_USERNAME, ids.A_USERNAME).strip() or None,
        secret=text_value(view, ids.B_SECRET, ids.A_SECRET) or None,
        ca_bundle_pem=ca_bundle,
        insecure=ids.OPT_INSECURE in options and info.has_url_check,
        save_unhealthy=ids.OPT_SAVE_UNHEALTHY in options,
    )


def carried(base: Mapping[str, Any] | None, block_id: str) -> str | None:
    return block_text(base, block_id)


def rebuild(
    ctx: AddContext,
    *,
    expect_type: str | None = None,
    change: Callable[[AddMeta], AddMeta] | None = None,
    url_check: str | bool | None = True,
    test_result: str | bool | None = True,
    status: str | None = None,
) -> Callable[[dict[str, Any] | None], View | None]:
    """A builder for `Views.update`: derives the new modal from the view it replaces.

    `True` keeps (carries over) that result block from the replaced view; a
    string replaces it; None removes it. With `expect_type`, the update is
    dropped when the user switched the repository type meanwhile (stale result).
    """

    def build(base: dict[str, Any] | None) -> View | None:
        meta = meta_of(base)
        if meta is None:
            return None
        if expect_type is not None and meta.registry_type != expect_type:
            return None
        if change is not None:
            meta = change(meta)
        return ctx.build(
            meta,
            url_check=carried(base, ids.B_URL_CHECK_RESULT)
            if url_check is True
            else url_check or None,
            test_result=carried(base, ids.B_TEST_RESULT)
            if test_result is True
            else test_result or None,
            status=status,
        )

    return build


def set_fp(fp: str, fp_at: int) -> Callable[[AddMeta], AddMeta]:
    """Remember a passing test's digest and time (Save skips the test for 15 minutes)."""
    return lambda meta: replace(meta, fp=fp, fp_at=fp_at)
