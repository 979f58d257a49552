"""view_submission listeners: Save (add), Save (account), Delete, the tool forms.

Fast problems (a field's format) go back at once as field errors
(`response_action: errors`). Anything slower acks with `response_action: update`
showing that it is working, then `views.update` shows the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncAck
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from bot.messages import access_text
from bot.runtime import Runtime
from bot.usecases import repositories, tools
from bot.usecases.actor import Actor
from bot.usecases.errors import InvalidInput, UseCaseError
from bot.usecases.forms import Creation, RepositoryForm
from bot.usecases.permissions import Place
from bot.usecases.repositories import (
    ConnectionTestFailed,
    PassedTest,
    RepositoryRow,
    SaveOutcome,
)
from bot.usecases.tools import ToolForm, ToolInfo
from handlers import add_flow, ids, metadata
from handlers.add_flow import AddContext
from handlers.delivery import deliver_outbox
from handlers.deps import Deps
from handlers.field_errors import field_errors
from handlers.guard import Listeners
from handlers.home import publish_home
from handlers.payload import checked_values, selected_value, text_value
from handlers.ui.common import code, escape, notice_view, test_result_text
from handlers.ui.fields import errors_text
from handlers.ui.manage import (
    ACCOUNT_TITLE,
    DELETE_TITLE,
    ManageMeta,
    account_modal,
    delete_modal,
    describe,
)
from handlers.ui.repository_form import AddMeta, saved_modal
from handlers.ui.tools import tool_kind_of, tool_modal, tool_of, tool_remove_modal

log = logging.getLogger("handlers.views")

SAVING = ":hourglass_flowing_sand: Saving: testing the connection first…"
TOOLS_TITLE = "Registered tools"
REMOVE_TITLE = "Remove tool"


listeners = Listeners()


async def _update_with(ack: AsyncAck, view: View) -> None:
    await ack(response_action="update", view=view)


async def _notice(ack: AsyncAck, title: str, text: str) -> None:
    await _update_with(ack, notice_view(title, text))


def _saved_text(outcome: SaveOutcome) -> str:
    row = outcome.repository
    lines = [
        f":white_check_mark: Saved the {access_text(row.access)} repository "
        f"{code(row.repository)} on {code(row.registry_url)} ({row.type_label})."
    ]
    if outcome.created_in_registry:
        lines.append(f"It was created in {row.tool_name or row.type_label}.")
    if outcome.result is not None:
        lines.append(test_result_text(outcome.result))
    else:
        lines.append("The connection test you just ran passed with these values.")
    lines.append("The project's channel was told. See it with `/imagerepo list`.")
    return "\n".join(lines)


# -- Save in the add modal -------------------------------------------------------------


@listeners.view(ids.VIEW_ADD)
async def add_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, deps: Deps
) -> None:
    rt = deps.runtime
    meta = add_flow.meta_of(view)
    if meta is None:  # not signed by this app: nothing is read from it
        await _notice(ack, "Image repositories", metadata.FORGED)
        return
    form = add_flow.read_form(view, meta)
    actor = await deps.actor(client, body)
    try:
        repositories.check_form(rt, actor, form)
    except InvalidInput as error:
        await _field_errors(ack, error, view)
        return
    try:
        ctx = await add_flow.load_context(rt, actor, meta)
    except UseCaseError as error:
        await _notice(ack, "Image repositories", escape(error.message))
        return
    save = _AddSave(deps, actor, meta, form, ctx, view)
    if form.creation is Creation.EXISTING and repositories.passed_recently(rt, form, save.passed):
        await save.without_network(ack)  # the same values just passed the Connection Test
        return
    await _update_with(ack, save.modal(SAVING))
    final, saved = await save.run()
    await deps.views.update(client, str(view.get("id")), final)
    if saved:
        await deliver_outbox(rt)


async def _field_errors(ack: AsyncAck, error: InvalidInput, view: dict[str, Any]) -> None:
    await ack(
        response_action="errors",
        errors=field_errors(error.errors, ids.FIELD_BLOCKS, view, ids.B_REPOSITORY),
    )


class _AddSave:
    """Saving what the add modal holds, and the modal that says how it went."""

    def __init__(
        self,
        deps: Deps,
        actor: Actor,
        meta: AddMeta,
        form: RepositoryForm,
        ctx: AddContext,
        view: dict[str, Any],
    ) -> None:
        self.deps, self.actor, self.meta, self.form, self.ctx = deps, actor, meta, form, ctx
        self.view = view
        self.passed = PassedTest(meta.fp, meta.fp_at)
        self.url_check = add_flow.carried(view, ids.B_URL_CHECK_RESULT)
        self.test_result = add_flow.carried(view, ids.B_TEST_RESULT)

    def modal(self, status: str, test_result: str | None = None) -> View:
        """The add modal again, its results carried over, with this status."""
        return self.ctx.build(
            self.meta,
            url_check=self.url_check,
            test_result=test_result or self.test_result,
            status=status,
        )

    async def _save(self) -> SaveOutcome:
        return await repositories.save_repository(
            self.deps.runtime,
            self.actor,
            channel_id=self.meta.channel_id,
            form=self.form,
            passed=self.passed,
        )

    async def without_network(self, ack: AsyncAck) -> None:
        """Save within the ack: the values' test passed moments ago."""
        try:
            outcome = await self._save()
        except InvalidInput as error:
            await _field_errors(ack, error, self.view)
            return
        except UseCaseError as error:
            await _update_with(ack, self.modal(f":x: Not saved: {escape(error.message)}"))
            return
        await _update_with(ack, saved_modal(self.meta, _saved_text(outcome)))
        await deliver_outbox(self.deps.runtime)

    async def run(self) -> tuple[View, bool]:
        """Save after the ack (the connection is tested first): the view to show then,
        and whether it was saved."""
        try:
            outcome = await self._save()
        except ConnectionTestFailed as error:
            status, result = (
                f":x: Not saved. {escape(error.message)}",
                test_result_text(error.result),
            )
            return self.modal(status, result), False
        except InvalidInput as error:
            return self.modal(":x: Not saved:\n" + errors_text(error.errors)), False
        except UseCaseError as error:
            return self.modal(f":x: Not saved: {escape(error.message)}"), False
        except Exception:
            log.exception("saving a repository failed")
            status = ":x: Not saved: something went wrong on our side (it was logged)."
            return self.modal(status), False
        return saved_modal(self.meta, _saved_text(outcome)), True


# -- Save in the account modal, Delete ---------------------------------------------------


EntryGetter = Callable[[Runtime, Actor, Place, int], Awaitable[RepositoryRow]]


@dataclass(frozen=True)
class _Manage:
    """A submitted account or delete modal: its signed metadata, the title its notices
    carry, and what updating it needs."""

    deps: Deps
    client: AsyncWebClient
    body: dict[str, Any]
    view: dict[str, Any]
    title: str
    meta: ManageMeta

    @classmethod
    async def load(
        cls,
        ack: AsyncAck,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        deps: Deps,
        title: str,
    ) -> _Manage | None:
        """None (and the user told) when this app did not sign the modal's metadata."""
        try:
            meta = ManageMeta.load(str(view.get("private_metadata") or ""))
        except ValueError:
            await _notice(ack, title, metadata.FORGED)
            return None
        return cls(deps, client, body, view, title, meta)

    async def entry(self, ack: AsyncAck, get: EntryGetter) -> tuple[Actor, RepositoryRow] | None:
        """Who submitted, and the entry as `get` (a use case) gives it to them; None (and the
        refusal shown) when it does not."""
        actor = await self.deps.actor(self.client, self.body)
        try:
            row = await get(self.deps.runtime, actor, self.meta.place, self.meta.repository_id)
        except UseCaseError as error:
            await _notice(ack, self.title, escape(error.message))
            return None
        return actor, row

    async def show(self, view: View) -> None:
        """Replace the modal after the ack."""
        await self.deps.views.update(self.client, str(self.view.get("id")), view)

    async def done(self, text: str, project_id: int) -> None:
        """Say what was done, send the channel's messages, refresh the Home tab the change
        was made from."""
        await self.show(notice_view(self.title, text))
        await deliver_outbox(self.deps.runtime)
        if self.meta.source == "home":
            await publish_home(self.deps, self.client, self.body, project_id=project_id)


@listeners.view(ids.VIEW_ACCOUNT)
async def account_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, deps: Deps
) -> None:
    modal = await _Manage.load(ack, body, view, client, deps, ACCOUNT_TITLE)
    if modal is None:
        return
    username = text_value(view, ids.B_USERNAME, ids.A_USERNAME).strip()
    secret = text_value(view, ids.B_SECRET, ids.A_SECRET)
    if errors := repositories.account_problems(username, secret):
        await ack(
            response_action="errors",
            errors=field_errors(errors, ids.FIELD_BLOCKS, view, ids.B_USERNAME),
        )
        return
    entry = await modal.entry(ack, repositories.get_repository)
    if entry is None:
        return
    actor, row = entry
    meta = modal.meta
    testing = ":hourglass_flowing_sand: Testing the new account…"
    await _update_with(ack, account_modal(row, meta, status=testing))
    try:
        result = await repositories.change_account(
            deps.runtime, actor, meta.place, meta.repository_id, username=username, secret=secret
        )
    except InvalidInput as error:
        status = ":x: Not changed:\n" + errors_text(error.errors)
    except ConnectionTestFailed as error:
        status = test_result_text(error.result) + "\n:x: The saved account was not changed."
    except UseCaseError as error:
        status = f":x: {escape(error.message)}"
    else:
        await modal.done(
            f":white_check_mark: The account of {describe(row)} is now "
            f"*{escape(username)}*.\n" + test_result_text(result),
            row.project_id,
        )
        return
    await modal.show(account_modal(row, meta, status=status))


@listeners.view(ids.VIEW_DELETE)
async def delete_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, deps: Deps
) -> None:
    modal = await _Manage.load(ack, body, view, client, deps, DELETE_TITLE)
    if modal is None:
        return
    also = ids.OPT_DELETE_IN_IR in checked_values(view, ids.B_DELETE_IN_IR, ids.A_DELETE_IN_IR)
    entry = await modal.entry(ack, repositories.get_for_delete)
    if entry is None:
        return
    actor, row = entry
    meta = modal.meta
    where = " in the image registry, then from the list" if also else " from the list"
    deleting = f":hourglass_flowing_sand: Deleting{where}…"
    await _update_with(ack, delete_modal(row, meta, status=deleting))
    try:
        await repositories.delete_repository(
            deps.runtime, actor, meta.place, meta.repository_id, also_in_registry=also
        )
    except UseCaseError as error:
        await modal.show(delete_modal(row, meta, status=f":x: {escape(error.message)}"))
        return
    done = "and in the image registry" if also else "(the image registry keeps the repository)"
    await modal.done(f":wastebasket: Deleted {describe(row)} from the list {done}.", row.project_id)


# -- tools ---------------------------------------------------------------------------------


def _tool_form(view: dict[str, Any], kind: str) -> ToolForm:
    options = checked_values(view, ids.B_TOOL_OPTIONS, ids.A_TOOL_OPTIONS)
    return ToolForm(
        name=text_value(view, ids.B_TOOL_NAME, ids.A_TOOL_NAME),
        url=text_value(view, ids.B_TOOL_URL, ids.A_TOOL_URL),
        username=text_value(view, ids.B_TOOL_USERNAME, ids.A_TOOL_USERNAME).strip() or None,
        secret=text_value(view, ids.B_TOOL_SECRET, ids.A_TOOL_SECRET) or None,
        ca_bundle_pem=text_value(view, ids.B_TOOL_CA, ids.A_TOOL_CA).strip() or None,
        insecure=ids.OPT_INSECURE in options,
        kind=kind,
    )


@listeners.view(ids.VIEW_TOOL)
async def tool_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, deps: Deps
) -> None:
    rt = deps.runtime
    try:
        tool_id = tool_of(str(view.get("private_metadata") or "")) or None
        kind = selected_value(view, ids.B_TOOL_KIND, ids.A_TOOL_KIND) or tool_kind_of(
            str(view.get("private_metadata") or "")
        )
    except ValueError:
        await _notice(ack, TOOLS_TITLE, metadata.FORGED)
        return
    form = _tool_form(view, kind)
    try:
        tools.validate_tool_form(form, editing=tool_id is not None)
    except InvalidInput as error:
        await ack(
            response_action="errors",
            errors=field_errors(error.errors, ids.TOOL_FIELD_BLOCKS, view, ids.B_TOOL_NAME),
        )
        return
    actor = await deps.actor(client, body)
    current: ToolInfo | None = None
    try:
        if tool_id is None:
            await tools.start_registration(rt, actor)
        else:
            current = await tools.tool_for_edit(rt, actor, tool_id)
    except UseCaseError as error:
        await _notice(ack, TOOLS_TITLE, error.message)
        return
    testing = ":hourglass_flowing_sand: Testing the instance…"
    await _update_with(ack, tool_modal(current, status=testing, kind=kind))
    view_id = str(view.get("id"))
    try:
        if tool_id is None:
            saved = await tools.register_tool(rt, actor, form)
        else:
            saved = await tools.update_tool(rt, actor, tool_id, form)
    except ConnectionTestFailed as error:
        status = test_result_text(error.result) + f"\n:x: {escape(error.message)}"
    except InvalidInput as error:
        status = ":x: " + escape("; ".join(error.errors.values()))
    except UseCaseError as error:
        status = f":x: {escape(error.message)}"
    else:
        verb = "Registered" if tool_id is None else "Saved"
        text = (
            f":white_check_mark: {verb} *{escape(saved.name)}* ({code(saved.url)}). "
            "Projects can now choose it as the Registered tool of a "
            f"{saved.kind_label} repository."
        )
        await deps.views.update(client, view_id, notice_view(TOOLS_TITLE, text))
        return
    await deps.views.update(client, view_id, tool_modal(current, status=status, kind=kind))


@listeners.view(ids.VIEW_TOOL_REMOVE)
async def tool_remove_submitted(
    ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient, deps: Deps
) -> None:
    rt = deps.runtime
    try:
        tool_id = tool_of(str(view.get("private_metadata") or ""))
    except ValueError:
        tool_id = 0
    if not tool_id:
        await _notice(ack, REMOVE_TITLE, metadata.FORGED)
        return
    actor = await deps.actor(client, body)
    try:
        name = await tools.remove_tool(rt, actor, tool_id)
    except UseCaseError as error:
        current = next((t for t in await tools.list_tools(rt, actor) if t.id == tool_id), None)
        view_out = (
            tool_remove_modal(current, status=f":x: {escape(error.message)}")
            if current is not None
            else notice_view(REMOVE_TITLE, escape(error.message))
        )
        await _update_with(ack, view_out)
        return
    removed = f":wastebasket: Removed the registered tool *{escape(name)}*."
    await _notice(ack, REMOVE_TITLE, removed)
