"""block_actions listeners: the add modal's buttons and selects, the list's menus and pages,
the alert's Connection Test button, the App Home project select, the tools list.

Each listener is a module-level function with its action id declared above it
(`@listeners.action(id)`); `listeners.register()` wires them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncRespond
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit import Action
from bot.usecases import home, repositories, tools
from bot.usecases.actor import Actor
from bot.usecases.errors import InvalidInput, UseCaseError
from bot.usecases.forms import Creation, RepositoryForm
from bot.usecases.permissions import EntryAction
from handlers import add_flow, ids, metadata
from handlers.add_flow import AddContext
from handlers.click import Click, from_home, menu, row_button
from handlers.delivery import deliver_outbox
from handlers.deps import Deps
from handlers.guard import Listeners
from handlers.home import publish_home
from handlers.payload import (
    action_value,
    chosen_value,
    first_action,
    row_id,
    selected_value,
    view_of,
)
from handlers.slack_calls import JsonDict, safe_call
from handlers.ui.common import code, mrkdwn, notice_view, test_result_text, url_check_text
from handlers.ui.fields import errors_text
from handlers.ui.i18n import N_, _, translate
from handlers.ui.manage import ManageMeta, account_modal, delete_modal, describe
from handlers.ui.repository_form import AddMeta
from handlers.ui.repository_list import list_blocks, list_text
from handlers.ui.tools import (
    ToolMeta,
    tool_grants_modal,
    tool_modal,
    tool_remove_modal,
    tools_blocks,
    tools_text,
)
from registry import RegistryType

log = logging.getLogger("handlers.actions")

TESTING = N_(":hourglass_flowing_sand: Testing the connection…")
CONNECTION_TEST = N_("Connection Test")

# A refused tool menu is recorded as an attempt of what was chosen.
TOOL_ACTIONS = {
    ids.TOOL_MENU_EDIT: Action.TOOL_EDIT,
    ids.TOOL_MENU_REMOVE: Action.TOOL_REMOVE,
    ids.TOOL_MENU_TEST: Action.CONNECTION_TEST,
    ids.TOOL_MENU_GRANTS: Action.TOOL_GRANT,
}


listeners = Listeners()


# -- the add modal ----------------------------------------------------------------


@dataclass(frozen=True)
class _AddModal:
    """The add modal a click came from, with what rebuilding it needs."""

    deps: Deps
    client: AsyncWebClient
    view: JsonDict
    meta: AddMeta
    actor: Actor
    ctx: AddContext

    @property
    def view_id(self) -> str:
        return str(self.view.get("id"))

    def form(self) -> RepositoryForm:
        return add_flow.read_form(self.view, self.meta)

    async def update(
        self,
        build: Callable[[JsonDict | None], View | None],
        over: JsonDict | None = None,
    ) -> JsonDict | None:
        """Replace the modal (`over`: the version an earlier update returned)."""
        current = over if over is not None else self.view
        return await self.deps.views.update(
            self.client, self.view_id, build, hash=current.get("hash"), current=current
        )

    async def show(self, over: JsonDict | None = None, **results: Any) -> JsonDict | None:
        """Rebuild for the same repository type with these result blocks."""
        return await self.update(
            add_flow.rebuild(self.ctx, expect_type=self.meta.registry_type, **results), over
        )


async def _add_modal(
    deps: Deps, client: AsyncWebClient, body: Mapping[str, Any]
) -> _AddModal | None:
    """The add modal of this click, or None when it is not one this app signed, or its
    project or tools can no longer be loaded: the modal is then left as it is."""
    view = view_of(body)
    meta = add_flow.meta_of(view)
    if meta is None:
        return None
    actor = await deps.actor(client, body)
    try:
        ctx = await add_flow.load_context(deps.runtime, actor, meta)
    except UseCaseError as error:
        log.info("add modal action skipped: %s", type(error).__name__)
        return None
    return _AddModal(deps, client, view, meta, actor, ctx)


def _fix_first(error: InvalidInput) -> str:
    return _(":warning: *Fix these first:*") + "\n" + errors_text(error.errors)


@listeners.action(ids.A_TYPE)
async def type_chosen(ack: AsyncAck, body: JsonDict, client: AsyncWebClient, deps: Deps) -> None:
    await ack()
    meta = add_flow.meta_of(view_of(body))
    chosen = selected_value({"state": {"values": {"b": {"a": first_action(body)}}}}, "b", "a")
    if meta is None or chosen is None or chosen == meta.registry_type:
        return
    if chosen not in {t.value for t in RegistryType}:  # only a forged payload
        return
    modal = await _add_modal(deps, client, body)
    if modal is not None:
        await modal.update(
            add_flow.rebuild(
                modal.ctx, change=lambda m: m.with_type(chosen), url_check=None, test_result=None
            )
        )


@listeners.action(ids.A_CREATION)
async def creation_chosen(
    ack: AsyncAck, body: JsonDict, client: AsyncWebClient, deps: Deps
) -> None:
    await ack()
    meta = add_flow.meta_of(view_of(body))
    chosen = chosen_value(body)
    if meta is None or chosen not in {c.value for c in Creation} or chosen == meta.creation:
        return
    modal = await _add_modal(deps, client, body)
    if modal is not None:
        await modal.show(change=lambda m: replace(m, creation=chosen), test_result=None)


@listeners.action(ids.A_URL_CHECK)
async def url_check(ack: AsyncAck, body: JsonDict, client: AsyncWebClient, deps: Deps) -> None:
    await ack()
    modal = await _add_modal(deps, client, body)
    if modal is None:
        return
    form = modal.form()
    url = form.registry_url or ""
    checking = await modal.show(
        url_check=_(":hourglass_flowing_sand: Checking {url}…").format(url=code(url, 200))
    )
    if checking is None:
        return
    try:
        result = await repositories.url_check(
            deps.runtime, url, ca_bundle_pem=form.ca_bundle_pem, insecure=form.insecure
        )
        text = url_check_text(url, result)
    except InvalidInput as error:
        said = " ".join(translate(m) for m in error.errors.values())
        text = f":warning: {mrkdwn(said)}"
    except UseCaseError as error:
        text = f":x: {mrkdwn(translate(error.message))}"
    await modal.show(checking, url_check=text)


@listeners.action(ids.A_TEST)
async def connection_test(
    ack: AsyncAck, body: JsonDict, client: AsyncWebClient, deps: Deps
) -> None:
    await ack()
    modal = await _add_modal(deps, client, body)
    if modal is None:
        return
    rt, form = deps.runtime, modal.form()
    try:
        repositories.check_form(rt, modal.actor, form)
    except InvalidInput as error:
        await modal.show(test_result=_fix_first(error))
        return
    testing = await modal.show(test_result=_(TESTING))
    if testing is None:
        return
    fp, fp_at = "", 0
    try:
        result = await repositories.test_form(
            rt, modal.actor, form, channel_id=modal.meta.channel_id
        )
    except InvalidInput as error:
        text = _fix_first(error)
    except UseCaseError as error:
        text = f":x: {mrkdwn(error.message)}"
    else:
        text = test_result_text(result)
        if result.ok:
            fp, fp_at = repositories.form_fingerprint(rt, form), int(rt.clock())
            if form.creation is Creation.NEW:
                text += "\nThe account works; the repository is created when you save."
    await modal.show(testing, change=add_flow.set_fp(fp, fp_at) if fp else None, test_result=text)


# -- the list (message and App Home) -------------------------------------------------


@listeners.action(ids.A_ROW_MENU)
@menu
async def row_menu(click: Click, kind: str, repository_id: int) -> None:
    if kind == ids.MENU_TEST:
        await _test_saved(click, repository_id)
    elif kind in (ids.MENU_ACCOUNT, ids.MENU_DELETE):
        await open_manage(click, kind, repository_id)


@listeners.action(ids.A_ALERT_TEST)
@row_button
async def alert_test(click: Click, repository_id: int) -> None:
    await _test_saved(click, repository_id, refresh_list=False)


@listeners.action(re.compile(rf"^{ids.A_PAGE}_(prev|next)$"))
async def page(
    ack: AsyncAck, body: JsonDict, client: AsyncWebClient, respond: AsyncRespond, deps: Deps
) -> None:
    await ack()
    project_text, _sep, page_text = action_value(body).partition(":")
    project_id, number = row_id(project_text), row_id(page_text)
    if project_id is None or number is None:
        return
    if from_home(body):
        await publish_home(deps, client, body, project_id=project_id, page=number)
        return
    await _refresh_list(Click(deps, client, body, respond), project_id, number)


@listeners.action(ids.A_HOME_PROJECT)
async def home_project(ack: AsyncAck, body: JsonDict, client: AsyncWebClient, deps: Deps) -> None:
    await ack()
    project_id = row_id(chosen_value(body))
    if project_id is not None:
        await publish_home(deps, client, body, project_id=project_id, page=1)


async def _refresh_list(click: Click, project_id: int, number: int) -> None:
    actor = await click.actor()
    try:
        project, page = await home.project_page(
            click.deps.runtime, actor, click.place, project_id, number
        )
    except UseCaseError as error:
        await safe_call(
            "respond", click.respond(text=mrkdwn(error.message), replace_original=False)
        )
        return
    await safe_call(
        "respond",
        click.respond(
            text=list_text(project.name, page),
            blocks=list_blocks(project.id, project.name, page),
            replace_original=True,
            response_type="ephemeral",
        ),
    )


def _current_page(body: Mapping[str, Any]) -> int:
    """The page the clicked list shows, read from its Previous / Next buttons."""
    message = body.get("message") or view_of(body)
    for block in (message or {}).get("blocks") or []:
        for element in block.get("elements") or [] if isinstance(block, Mapping) else []:
            action_id = str(element.get("action_id", "")) if isinstance(element, Mapping) else ""
            _kind, _sep, number = str(element.get("value", "")).partition(":")
            shown = row_id(number)
            if shown is not None and action_id.endswith("_next"):
                return shown - 1
            if shown is not None and action_id.endswith("_prev"):
                return shown + 1
    return 1


async def _test_in_modal(click: Click, testing: str) -> JsonDict | None:
    """Open the small Connection Test modal saying what is being tested."""
    return await click.open(notice_view(_(CONNECTION_TEST), f"{_(TESTING)}\n{testing}"))


async def _show_result(click: Click, opened: JsonDict | None, text: str) -> bool:
    """Put the result in the Connection Test modal; False when there is none to put it in."""
    if opened is None:
        return False
    await click.deps.views.update(
        click.client,
        str(opened["id"]),
        notice_view(_(CONNECTION_TEST), text),
        hash=opened.get("hash"),
    )
    return True


async def _test_saved(click: Click, repository_id: int, *, refresh_list: bool = True) -> None:
    rt, body = click.deps.runtime, click.body
    actor, place = await click.actor(), click.place
    try:
        row = await repositories.get_repository(rt, actor, place, repository_id)
    except UseCaseError as error:
        await click.tell(mrkdwn(error.message))
        return
    opened = await _test_in_modal(click, describe(row))
    try:
        result = await repositories.test_saved(rt, actor, place, repository_id)
        text = f"{describe(row)}\n" + test_result_text(result)
    except UseCaseError as error:
        text = f":x: {mrkdwn(error.message)}"
    if not await _show_result(click, opened, text):
        await click.tell(text)
    await deliver_outbox(rt)
    if click.from_home:
        await publish_home(
            click.deps, click.client, body, project_id=row.project_id, page=_current_page(body)
        )
    elif refresh_list and body.get("response_url"):
        await _refresh_list(click, row.project_id, _current_page(body))


async def open_manage(click: Click, kind: str, repository_id: int) -> None:
    rt, actor, place = click.deps.runtime, await click.actor(), click.place
    try:
        if kind == ids.MENU_ACCOUNT:
            row = await repositories.entry_for(
                rt, actor, place, repository_id, EntryAction.CHANGE_ACCOUNT
            )
            modal = account_modal
        else:
            # the delete modal also says whether the saved account can delete in the registry
            row = await repositories.get_for_delete(rt, actor, place, repository_id)
            modal = delete_modal
    except UseCaseError as error:
        await click.tell(mrkdwn(error.message))
        return
    meta = ManageMeta(
        repository_id=repository_id,
        source="home" if place.is_home else "",
        channel_id=place.channel_id or "",
    )
    await click.open(modal(row, meta))


# -- tools ------------------------------------------------------------------------------


@listeners.action(ids.A_TOOL_REGISTER)
async def tool_register(
    ack: AsyncAck, body: JsonDict, client: AsyncWebClient, respond: AsyncRespond, deps: Deps
) -> None:
    await ack()
    click = Click(deps, client, body, respond)
    try:
        await tools.start_registration(deps.runtime, await click.actor())
    except UseCaseError as error:
        await click.tell(mrkdwn(error.message))
        return
    await click.open(tool_modal(None))


@listeners.action(ids.A_TOOL_MENU)
@menu
async def tool_menu(click: Click, kind: str, tool_id: int) -> None:
    rt, actor = click.deps.runtime, await click.actor()
    try:
        tool = await tools.tool_for_edit(
            rt, actor, tool_id, purpose=TOOL_ACTIONS.get(kind, Action.TOOL_EDIT)
        )
    except UseCaseError as error:
        await click.tell(mrkdwn(translate(error.message)))
        return
    if kind == ids.TOOL_MENU_EDIT:
        await click.open(tool_modal(tool))
    elif kind == ids.TOOL_MENU_REMOVE:
        await click.open(tool_remove_modal(tool))
    elif kind == ids.TOOL_MENU_GRANTS:
        try:
            grants = await tools.tool_grants(rt, actor, tool_id)
        except UseCaseError as error:
            await click.tell(mrkdwn(translate(error.message)))
            return
        await click.open(tool_grants_modal(grants))
    elif kind == ids.TOOL_MENU_TEST:
        opened = await _test_in_modal(click, f"*{mrkdwn(tool.name)}* ({code(tool.url)})")
        try:
            result = await tools.test_tool(rt, actor, tool_id)
            heading = _("Connection test of {name}").format(name=mrkdwn(tool.name))
            text = test_result_text(result, heading=heading)
        except UseCaseError as error:
            text = f":x: {mrkdwn(translate(error.message))}"
        await _show_result(click, opened, text)


@listeners.action(ids.A_GRANT_REMOVE)
async def grant_remove(
    ack: AsyncAck, body: JsonDict, client: AsyncWebClient, respond: AsyncRespond, deps: Deps
) -> None:
    """A grant's Remove button in a tool's Grants modal: the tool comes from the modal's
    signed metadata, the grant from the button (which must belong to that tool)."""
    await ack()
    click = Click(deps, client, body, respond)
    view = view_of(body)
    tool_part, _sep, grant_part = action_value(body).partition(":")
    grant_id = row_id(grant_part)
    try:
        meta = ToolMeta.load(str(view.get("private_metadata") or ""))
    except ValueError:
        await click.tell(metadata.FORGED)
        return
    if grant_id is None or row_id(tool_part) != meta.tool_id or not meta.tool_id:
        await click.tell(metadata.FORGED)
        return
    rt, actor = deps.runtime, await click.actor()
    try:
        grants = await tools.remove_grant(rt, actor, meta.tool_id, grant_id)
    except UseCaseError as error:
        await click.tell(mrkdwn(translate(error.message)))
        return
    await deps.views.update(
        client,
        str(view.get("id")),
        tool_grants_modal(grants, status=_(":wastebasket: Removed the grant.")),
    )


@listeners.action(re.compile(rf"^{ids.A_TOOLS_PAGE}_(prev|next)$"))
async def tools_page(
    ack: AsyncAck, body: JsonDict, client: AsyncWebClient, respond: AsyncRespond, deps: Deps
) -> None:
    """Previous / Next under `/imagerepo tools`: that page replaces the message."""
    await ack()
    number = row_id(action_value(body))
    if number is None:
        return
    click = Click(deps, client, body, respond)
    actor = await click.actor()
    page = await tools.tools_page(deps.runtime, actor, number)
    await safe_call(
        "respond",
        click.respond(
            text=tools_text(page),
            blocks=tools_blocks(page, is_admin=tools.may_manage(actor)),
            replace_original=True,
            response_type="ephemeral",
        ),
    )
