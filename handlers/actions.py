"""block_actions listeners: the add modal's buttons and selects, the list's menus and pages,
the alert's Connection Test button, the App Home project select, the tools list.

Each listener is a module-level function with its action id declared above it
(`@listeners.action(id)`); `listeners.register()` wires them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from bot.audit import Action
from bot.usecases import home, repositories, tools
from bot.usecases.actor import Actor
from bot.usecases.errors import InvalidInput, UseCaseError
from bot.usecases.forms import Creation, RepositoryForm
from bot.usecases.permissions import EntryAction
from handlers import add_flow, ids, metadata
from handlers.add_flow import AddContext
from handlers.click import menu, row_button
from handlers.context import Request, ViewBuilder
from handlers.delivery import deliver_outbox
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
from handlers.slack_calls import JsonDict
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

    request: Request
    meta: AddMeta
    actor: Actor
    ctx: AddContext

    def form(self) -> RepositoryForm:
        return add_flow.read_form(self.request.view, self.meta)

    async def update(self, build: ViewBuilder, over: JsonDict | None = None) -> JsonDict | None:
        """Replace the modal (`over`: the version an earlier update returned)."""
        current = over if over is not None else self.request.view
        return await self.request.update(build, hash=current.get("hash"), current=current)

    async def show(self, over: JsonDict | None = None, **results: Any) -> JsonDict | None:
        """Rebuild for the same repository type with these result blocks."""
        return await self.update(
            add_flow.rebuild(self.ctx, expect_type=self.meta.registry_type, **results), over
        )


async def _add_modal(request: Request) -> _AddModal | None:
    """The add modal of this click, or None when it is not one this app signed, or its
    project or tools can no longer be loaded: the modal is then left as it is."""
    meta = add_flow.meta_of(request.view)
    if meta is None:
        return None
    actor = await request.actor()
    try:
        ctx = await add_flow.load_context(request.runtime, actor, meta.channel_id)
    except UseCaseError as error:
        log.info("add modal action skipped: %s", type(error).__name__)
        return None
    return _AddModal(request, meta, actor, ctx)


async def _ack_then_add_modal(request: Request) -> _AddModal | None:
    """Ack a click of the add modal's buttons, then the modal (see `_add_modal`)."""
    await request.ack()
    return await _add_modal(request)


def _fix_first(error: InvalidInput) -> str:
    return _(":warning: *Fix these first:*") + "\n" + errors_text(error.errors)


@listeners.action(ids.A_TYPE)
async def type_chosen(request: Request) -> None:
    await request.ack()
    meta = add_flow.meta_of(request.view)
    chosen = selected_value(
        {"state": {"values": {"b": {"a": first_action(request.body)}}}}, "b", "a"
    )
    if meta is None or chosen is None or chosen == meta.registry_type:
        return
    if chosen not in {t.value for t in RegistryType}:  # only a forged payload
        return
    modal = await _add_modal(request)
    if modal is not None:
        await modal.update(
            add_flow.rebuild(
                modal.ctx, change=lambda m: m.with_type(chosen), url_check=None, test_result=None
            )
        )


@listeners.action(ids.A_CREATION)
async def creation_chosen(request: Request) -> None:
    await request.ack()
    meta = add_flow.meta_of(request.view)
    chosen = chosen_value(request.body)
    if meta is None or chosen not in {c.value for c in Creation} or chosen == meta.creation:
        return
    modal = await _add_modal(request)
    if modal is not None:
        await modal.show(change=lambda m: replace(m, creation=chosen), test_result=None)


@listeners.action(ids.A_URL_CHECK)
async def url_check(request: Request) -> None:
    modal = await _ack_then_add_modal(request)
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
            request.runtime, url, ca_bundle_pem=form.ca_bundle_pem, insecure=form.insecure
        )
        text = url_check_text(url, result)
    except InvalidInput as error:
        said = " ".join(translate(m) for m in error.errors.values())
        text = f":warning: {mrkdwn(said)}"
    except UseCaseError as error:
        text = f":x: {mrkdwn(translate(error.message))}"
    await modal.show(checking, url_check=text)


@listeners.action(ids.A_TEST)
async def connection_test(request: Request) -> None:
    modal = await _ack_then_add_modal(request)
    if modal is None:
        return
    rt, form = request.runtime, modal.form()
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
async def row_menu(request: Request, kind: str, repository_id: int) -> None:
    if kind == ids.MENU_TEST:
        await _test_saved(request, repository_id)
    elif kind in (ids.MENU_ACCOUNT, ids.MENU_DELETE):
        await open_manage(request, kind, repository_id)


@listeners.action(ids.A_ALERT_TEST)
@row_button
async def alert_test(request: Request, repository_id: int) -> None:
    await _test_saved(request, repository_id, refresh_list=False)


@listeners.action(re.compile(rf"^{ids.A_PAGE}_(prev|next)$"))
async def page(request: Request) -> None:
    await request.ack()
    project_text, _sep, page_text = action_value(request.body).partition(":")
    project_id, number = row_id(project_text), row_id(page_text)
    if project_id is None or number is None:
        return
    if request.from_home:
        await publish_home(request, project_id=project_id, page=number)
        return
    await _refresh_list(request, project_id, number)


@listeners.action(ids.A_HOME_PROJECT)
async def home_project(request: Request) -> None:
    await request.ack()
    project_id = row_id(chosen_value(request.body))
    if project_id is not None:
        await publish_home(request, project_id=project_id, page=1)


async def _refresh_list(request: Request, project_id: int, number: int) -> None:
    actor = await request.actor()
    try:
        project, page = await home.project_page(
            request.runtime, actor, request.place, project_id, number
        )
    except UseCaseError as error:
        await request.answer(mrkdwn(error.message), replace_original=False)
        return
    await request.answer(
        list_text(project.name, page),
        blocks=list_blocks(project.id, project.name, page),
        replace_original=True,
        response_type="ephemeral",
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


async def _test_in_modal(request: Request, testing: str) -> JsonDict | None:
    """Open the small Connection Test modal saying what is being tested."""
    return await request.open(notice_view(_(CONNECTION_TEST), f"{_(TESTING)}\n{testing}"))


async def _show_result(request: Request, opened: JsonDict | None, text: str) -> bool:
    """Put the result in the Connection Test modal; False when there is none to put it in."""
    if opened is None:
        return False
    await request.update(
        notice_view(_(CONNECTION_TEST), text),
        view_id=str(opened["id"]),
        hash=opened.get("hash"),
    )
    return True


async def _test_saved(request: Request, repository_id: int, *, refresh_list: bool = True) -> None:
    rt, body = request.runtime, request.body
    actor, place = await request.actor(), request.place
    try:
        row = await repositories.get_repository(rt, actor, place, repository_id)
    except UseCaseError as error:
        await request.tell(mrkdwn(error.message))
        return
    opened = await _test_in_modal(request, describe(row))
    try:
        result = await repositories.test_saved(rt, actor, place, repository_id)
        text = f"{describe(row)}\n" + test_result_text(result)
    except UseCaseError as error:
        text = f":x: {mrkdwn(error.message)}"
    if not await _show_result(request, opened, text):
        await request.tell(text)
    await deliver_outbox(rt)
    if request.from_home:
        await publish_home(request, project_id=row.project_id, page=_current_page(body))
    elif refresh_list and body.get("response_url"):
        await _refresh_list(request, row.project_id, _current_page(body))


async def open_manage(request: Request, kind: str, repository_id: int) -> None:
    rt, actor, place = request.runtime, await request.actor(), request.place
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
        await request.tell(mrkdwn(error.message))
        return
    meta = ManageMeta(
        repository_id=repository_id,
        source="home" if place.is_home else "",
        channel_id=place.channel_id or "",
    )
    await request.open(modal(row, meta))


# -- tools ------------------------------------------------------------------------------


@listeners.action(ids.A_TOOL_REGISTER)
async def tool_register(request: Request) -> None:
    await request.ack()
    try:
        await tools.start_registration(request.runtime, await request.actor())
    except UseCaseError as error:
        await request.tell(mrkdwn(error.message))
        return
    await request.open(tool_modal(None))


@listeners.action(ids.A_TOOL_MENU)
@menu
async def tool_menu(request: Request, kind: str, tool_id: int) -> None:
    rt, actor = request.runtime, await request.actor()
    try:
        tool = await tools.tool_for_edit(
            rt, actor, tool_id, purpose=TOOL_ACTIONS.get(kind, Action.TOOL_EDIT)
        )
    except UseCaseError as error:
        await request.tell(mrkdwn(translate(error.message)))
        return
    if kind == ids.TOOL_MENU_EDIT:
        await request.open(tool_modal(tool))
    elif kind == ids.TOOL_MENU_REMOVE:
        await request.open(tool_remove_modal(tool))
    elif kind == ids.TOOL_MENU_GRANTS:
        try:
            grants = await tools.tool_grants(rt, actor, tool_id)
        except UseCaseError as error:
            await request.tell(mrkdwn(translate(error.message)))
            return
        await request.open(tool_grants_modal(grants))
    elif kind == ids.TOOL_MENU_TEST:
        opened = await _test_in_modal(request, f"*{mrkdwn(tool.name)}* ({code(tool.url)})")
        try:
            result = await tools.test_tool(rt, actor, tool_id)
            heading = _("Connection test of {name}").format(name=mrkdwn(tool.name))
            text = test_result_text(result, heading=heading)
        except UseCaseError as error:
            text = f":x: {mrkdwn(translate(error.message))}"
        await _show_result(request, opened, text)


@listeners.action(ids.A_GRANT_REMOVE)
async def grant_remove(request: Request) -> None:
    """A grant's Remove button in a tool's Grants modal: the tool comes from the modal's
    signed metadata, the grant from the button (which must belong to that tool)."""
    await request.ack()
    view = request.view
    tool_part, _sep, grant_part = action_value(request.body).partition(":")
    grant_id = row_id(grant_part)
    try:
        meta = ToolMeta.load(str(view.get("private_metadata") or ""))
    except ValueError:
        await request.tell(metadata.FORGED)
        return
    if grant_id is None or row_id(tool_part) != meta.tool_id or not meta.tool_id:
        await request.tell(metadata.FORGED)
        return
    rt, actor = request.runtime, await request.actor()
    try:
        grants = await tools.remove_grant(rt, actor, meta.tool_id, grant_id)
    except UseCaseError as error:
        await request.tell(mrkdwn(translate(error.message)))
        return
    await request.update(tool_grants_modal(grants, status=_(":wastebasket: Removed the grant.")))


@listeners.action(re.compile(rf"^{ids.A_TOOLS_PAGE}_(prev|next)$"))
async def tools_page(request: Request) -> None:
    """Previous / Next under `/imagerepo tools`: that page replaces the message."""
    await request.ack()
    number = row_id(action_value(request.body))
    if number is None:
        return
    actor = await request.actor()
    page = await tools.tools_page(request.runtime, actor, number)
    await request.answer(
        tools_text(page),
        blocks=tools_blocks(page, is_admin=tools.may_manage(actor)),
        replace_original=True,
        response_type="ephemeral",
    )
