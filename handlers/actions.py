"""block_actions listeners: the add modal's buttons and selects, the list's menus and pages,
the alert's Connection Test button, the App Home project select, the tools list."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Action
from bot.usecases import home, repositories, tools
from bot.usecases.actor import Actor
from bot.usecases.errors import InvalidInput, UseCaseError
from bot.usecases.forms import Creation
from bot.usecases.permissions import EntryAction, Place
from handlers import add_flow, ids
from handlers.add_flow import AddContext
from handlers.home import publish_home
from handlers.support import (
    Deps,
    channel_of,
    deliver_outbox,
    guarded,
    row_id,
    safe_call,
    selected_value,
)
from handlers.ui.common import code, escape, notice_view, test_result_text, url_check_text
from handlers.ui.manage import ManageMeta, account_modal, delete_modal, describe
from handlers.ui.repository_form import AddMeta
from handlers.ui.repository_list import list_blocks, list_text
from handlers.ui.tools import tool_modal, tool_remove_modal
from registry import RegistryType

log = logging.getLogger("handlers.actions")

TESTING = ":hourglass_flowing_sand: Testing the connection…"


def _view(body: Mapping[str, Any]) -> dict[str, Any]:
    view = body.get("view")
    return dict(view) if isinstance(view, Mapping) else {}


def _action(body: Mapping[str, Any]) -> dict[str, Any]:
    actions = body.get("actions") or [{}]
    first = actions[0]
    return dict(first) if isinstance(first, Mapping) else {}


def _chosen(body: Mapping[str, Any]) -> str:
    """The value of the first action's selected option ("" when absent or malformed)."""
    chosen = _action(body).get("selected_option")
    return str(chosen.get("value") or "") if isinstance(chosen, Mapping) else ""


def _from_home(body: Mapping[str, Any]) -> bool:
    return _view(body).get("type") == "home"


def place_of(body: Mapping[str, Any]) -> Place:
    """Where the click came from: the Home tab, or the channel Slack says the message is in
    (use cases trust an id only for that channel's project)."""
    return Place.home() if _from_home(body) else Place.channel(channel_of(body) or "")


def _menu_choice(body: Mapping[str, Any]) -> tuple[str, int] | None:
    value = _chosen(body) or str(_action(body).get("value") or "")
    kind, _, number = value.partition(":")
    number_id = row_id(number)
    return (kind, number_id) if number_id is not None else None


async def tell(
    deps: Deps,
    client: AsyncWebClient,
    body: Mapping[str, Any],
    respond: AsyncRespond,
    text: str,
    *,
    title: str = "Image repositories",
) -> None:
    """Answer only the clicking user: in the message's channel, or in a small modal."""
    if body.get("response_url"):
        await safe_call(
            "respond", respond(text=text, response_type="ephemeral", replace_original=False)
        )
    elif body.get("trigger_id"):
        await deps.views.open(client, str(body["trigger_id"]), notice_view(title, text))


async def _add_context(
    deps: Deps, client: AsyncWebClient, body: Mapping[str, Any], meta: AddMeta
) -> tuple[Actor, AddContext] | None:
    """The acting user and the add modal's context (project, tools), or None when the
    project or its tools can no longer be loaded: the modal is then left as it is."""
    actor = await deps.actor(client, body)
    try:
        return actor, await add_flow.load_context(deps.runtime, actor, meta)
    except UseCaseError as error:
        log.info("add modal action skipped: %s", type(error).__name__)
        return None


def register(app: AsyncApp, deps: Deps) -> None:
    rt = deps.runtime

    # -- the add modal ------------------------------------------------------

    @app.action(ids.A_TYPE)
    @guarded
    async def type_chosen(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = _view(body)
        meta = add_flow.meta_of(view)
        chosen = selected_value({"state": {"values": {"b": {"a": _action(body)}}}}, "b", "a")
        if meta is None or chosen is None or chosen == meta.registry_type:
            return
        if chosen not in {t.value for t in RegistryType}:  # only a forged payload
            return
        loaded = await _add_context(deps, client, body, meta)
        if loaded is None:
            return
        _, ctx = loaded
        await deps.views.update(
            client,
            str(view.get("id")),
            add_flow.rebuild(
                ctx, change=lambda m: m.with_type(chosen), url_check=None, test_result=None
            ),
            hash=view.get("hash"),
            current=view,
        )

    @app.action(ids.A_CREATION)
    @guarded
    async def creation_chosen(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = _view(body)
        meta = add_flow.meta_of(view)
        chosen = _chosen(body)
        if meta is None or chosen not in {c.value for c in Creation} or chosen == meta.creation:
            return
        loaded = await _add_context(deps, client, body, meta)
        if loaded is None:
            return
        _, ctx = loaded
        await deps.views.update(
            client,
            str(view.get("id")),
            add_flow.rebuild(
                ctx,
                expect_type=meta.registry_type,
                change=lambda m: replace(m, creation=str(chosen)),
                test_result=None,
            ),
            hash=view.get("hash"),
            current=view,
        )

    @app.action(ids.A_URL_CHECK)
    @guarded
    async def url_check(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = _view(body)
        meta = add_flow.meta_of(view)
        if meta is None:
            return
        form = add_flow.read_form(view, meta)
        loaded = await _add_context(deps, client, body, meta)
        if loaded is None:
            return
        _, ctx = loaded
        view_id = str(view.get("id"))
        url = form.registry_url or ""
        checking = await deps.views.update(
            client,
            view_id,
            add_flow.rebuild(
                ctx,
                expect_type=meta.registry_type,
                url_check=f":hourglass_flowing_sand: Checking {code(url, 200)}…",
            ),
            hash=view.get("hash"),
            current=view,
        )
        if checking is None:
            return
        try:
            result = await repositories.url_check(
                rt, url, ca_bundle_pem=form.ca_bundle_pem, insecure=form.insecure
            )
            text = url_check_text(url, result)
        except InvalidInput as error:
            text = f":warning: {escape(' '.join(error.errors.values()))}"
        except UseCaseError as error:
            text = f":x: {escape(error.message)}"
        await deps.views.update(
            client,
            view_id,
            add_flow.rebuild(ctx, expect_type=meta.registry_type, url_check=text),
            hash=checking.get("hash"),
            current=checking,
        )

    @app.action(ids.A_TEST)
    @guarded
    async def connection_test(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        view = _view(body)
        meta = add_flow.meta_of(view)
        if meta is None:
            return
        form = add_flow.read_form(view, meta)
        loaded = await _add_context(deps, client, body, meta)
        if loaded is None:
            return
        actor, ctx = loaded
        view_id = str(view.get("id"))
        try:
            repositories.check_form(rt, actor, form)
        except InvalidInput as error:
            await deps.views.update(
                client,
                view_id,
                add_flow.rebuild(
                    ctx,
                    expect_type=meta.registry_type,
                    test_result=":warning: *Fix these first:*\n"
                    + add_flow.errors_text(error.errors),
                ),
                hash=view.get("hash"),
                current=view,
            )
            return
        testing = await deps.views.update(
            client,
            view_id,
            add_flow.rebuild(ctx, expect_type=meta.registry_type, test_result=TESTING),
            hash=view.get("hash"),
            current=view,
        )
        if testing is None:
            return
        fp, fp_at = "", 0
        try:
            result = await repositories.test_form(rt, actor, form, channel_id=meta.channel_id)
        except InvalidInput as error:
            text = ":warning: *Fix these first:*\n" + add_flow.errors_text(error.errors)
        except UseCaseError as error:
            text = f":x: {escape(error.message)}"
        else:
            text = test_result_text(result)
            if result.ok:
                fp, fp_at = repositories.form_fingerprint(rt, form), int(rt.clock())
                if form.creation is Creation.NEW:
                    text += "\nThe account works; the repository is created when you save."
        await deps.views.update(
            client,
            view_id,
            add_flow.rebuild(
                ctx,
                expect_type=meta.registry_type,
                change=add_flow.set_fp(fp, fp_at) if fp else None,
                test_result=text,
            ),
            hash=testing.get("hash"),
            current=testing,
        )

    # -- the list (message and App Home) -------------------------------------

    @app.action(ids.A_ROW_MENU)
    @guarded
    async def row_menu(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        choice = _menu_choice(body)
        if choice is None:
            return
        kind, repository_id = choice
        if kind == ids.MENU_TEST:
            await _test_saved(deps, client, body, respond, repository_id)
        elif kind in (ids.MENU_ACCOUNT, ids.MENU_DELETE):
            await open_manage(deps, client, body, respond, kind, repository_id)

    @app.action(ids.A_ALERT_TEST)
    @guarded
    async def alert_test(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        repository_id = row_id(str(_action(body).get("value") or ""))
        if repository_id is not None:
            await _test_saved(deps, client, body, respond, repository_id, refresh_list=False)

    @app.action(re.compile(rf"^{ids.A_PAGE}_(prev|next)$"))
    @guarded
    async def page(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        project_text, _, page_text = str(_action(body).get("value") or "").partition(":")
        project_id, number = row_id(project_text), row_id(page_text)
        if project_id is None or number is None:
            return
        if _from_home(body):
            await publish_home(deps, client, body, project_id=project_id, page=number)
            return
        await _refresh_list(deps, client, body, respond, project_id, number)

    @app.action(ids.A_HOME_PROJECT)
    @guarded
    async def home_project(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        project_id = row_id(_chosen(body))
        if project_id is not None:
            await publish_home(deps, client, body, project_id=project_id, page=1)

    # -- tools -------------------------------------------------------------

    @app.action(ids.A_TOOL_REGISTER)
    @guarded
    async def tool_register(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        actor = await deps.actor(client, body)
        try:
            await tools.start_registration(rt, actor)
        except UseCaseError as error:
            await tell(deps, client, body, respond, error.message)
            return
        await deps.views.open(client, str(body.get("trigger_id")), tool_modal(None))

    @app.action(ids.A_TOOL_MENU)
    @guarded
    async def tool_menu(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient, respond: AsyncRespond
    ) -> None:
        await ack()
        choice = _menu_choice(body)
        if choice is None:
            return
        kind, tool_id = choice
        actor = await deps.actor(client, body)
        try:
            tool = await tools.tool_for_edit(
                rt, actor, tool_id, purpose=TOOL_ACTIONS.get(kind, Action.TOOL_EDIT)
            )
        except UseCaseError as error:
            await tell(deps, client, body, respond, error.message)
            return
        trigger_id = str(body.get("trigger_id"))
        if kind == ids.TOOL_MENU_EDIT:
            await deps.views.open(client, trigger_id, tool_modal(tool))
        elif kind == ids.TOOL_MENU_REMOVE:
            await deps.views.open(client, trigger_id, tool_remove_modal(tool))
        elif kind == ids.TOOL_MENU_TEST:
            opened = await deps.views.open(
                client,
                trigger_id,
                notice_view(
                    "Connection Test", f"{TESTING}\n*{escape(tool.name)}* ({code(tool.url)})"
                ),
            )
            try:
                result = await tools.test_tool(rt, actor, tool_id)
                text = test_result_text(result, heading=f"Connection test of {escape(tool.name)}")
            except UseCaseError as error:
                text = f":x: {escape(error.message)}"
            if opened is not None:
                await deps.views.update(
                    client,
                    str(opened["id"]),
                    notice_view("Connection Test", text),
                    hash=opened.get("hash"),
                )


# A refused tool menu is recorded as an attempt of what was chosen.
TOOL_ACTIONS = {
    ids.TOOL_MENU_EDIT: Action.TOOL_EDIT,
    ids.TOOL_MENU_REMOVE: Action.TOOL_REMOVE,
    ids.TOOL_MENU_TEST: Action.CONNECTION_TEST,
}


async def _refresh_list(
    deps: Deps,
    client: AsyncWebClient,
    body: Mapping[str, Any],
    respond: AsyncRespond,
    project_id: int,
    number: int,
) -> None:
    actor = await deps.actor(client, body)
    try:
        project, page = await home.project_page(
            deps.runtime, actor, place_of(body), project_id, number
        )
    except UseCaseError as error:
        await safe_call("respond", respond(text=escape(error.message), replace_original=False))
        return
    await safe_call(
        "respond",
        respond(
            text=list_text(project.name, page),
            blocks=list_blocks(project.id, project.name, page),
            replace_original=True,
            response_type="ephemeral",
        ),
    )


def _current_page(body: Mapping[str, Any]) -> int:
    """The page the clicked list shows, read from its Previous / Next buttons."""
    message = body.get("message") or _view(body)
    for block in (message or {}).get("blocks") or []:
        for element in block.get("elements") or [] if isinstance(block, Mapping) else []:
            action_id = str(element.get("action_id", "")) if isinstance(element, Mapping) else ""
            _, _, number = str(element.get("value", "")).partition(":")
            shown = row_id(number)
            if shown is not None and action_id.endswith("_next"):
                return shown - 1
            if shown is not None and action_id.endswith("_prev"):
                return shown + 1
    return 1


async def _test_saved(
    deps: Deps,
    client: AsyncWebClient,
    body: Mapping[str, Any],
    respond: AsyncRespond,
    repository_id: int,
    *,
    refresh_list: bool = True,
) -> None:
    rt = deps.runtime
    actor = await deps.actor(client, body)
    place = place_of(body)
    try:
        row = await repositories.get_repository(rt, actor, place, repository_id)
    except UseCaseError as error:
        await tell(deps, client, body, respond, escape(error.message))
        return
    opened = await deps.views.open(
        client,
        str(body.get("trigger_id")),
        notice_view("Connection Test", f"{TESTING}\n{describe(row)}"),
    )
    try:
        result = await repositories.test_saved(rt, actor, place, repository_id)
        text = f"{describe(row)}\n" + test_result_text(result)
    except UseCaseError as error:
        text = f":x: {escape(error.message)}"
    if opened is not None:
        await deps.views.update(
            client, str(opened["id"]), notice_view("Connection Test", text), hash=opened.get("hash")
        )
    else:
        await tell(deps, client, body, respond, text)
    await deliver_outbox(rt)
    if _from_home(body):
        await publish_home(deps, client, body, project_id=row.project_id, page=_current_page(body))
    elif refresh_list and body.get("response_url"):
        await _refresh_list(deps, client, body, respond, row.project_id, _current_page(body))


async def open_manage(
    deps: Deps,
    client: AsyncWebClient,
    body: Mapping[str, Any],
    respond: AsyncRespond,
    kind: str,
    repository_id: int,
) -> None:
    actor = await deps.actor(client, body)
    place = place_of(body)
    try:
        if kind == ids.MENU_ACCOUNT:
            row = await repositories.entry_for(
                deps.runtime, actor, place, repository_id, EntryAction.CHANGE_ACCOUNT
            )
            modal = account_modal
        else:
            # the delete modal also says whether the saved account can delete in the registry
            row = await repositories.get_for_delete(deps.runtime, actor, place, repository_id)
            modal = delete_modal
    except UseCaseError as error:
        await tell(deps, client, body, respond, escape(error.message))
        return
    meta = ManageMeta(
        repository_id=repository_id,
        source="home" if place.is_home else "",
        channel_id=place.channel_id or "",
    )
    await deps.views.open(client, str(body.get("trigger_id")), modal(row, meta))
