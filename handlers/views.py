"""view_submission listeners: Save (add), Save (account), Delete, the tool forms.

Fast problems (a field's format) go back at once as field errors
(`response_action: errors`). Anything slower acks with `response_action: update`
showing that it is working, then `views.update` shows the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from slack_sdk.models.views import View

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
from handlers.context import Request
from handlers.delivery import deliver_outbox
from handlers.field_errors import field_errors
from handlers.guard import Listeners
from handlers.home import publish_home
from handlers.payload import checked_values, selected_value, text_value
from handlers.ui.common import code, mrkdwn, notice_view, test_result_text, went_wrong
from handlers.ui.fields import errors_text
from handlers.ui.i18n import N_, _, translate
from handlers.ui.manage import (
    ACCOUNT_TITLE,
    DELETE_TITLE,
    ManageMeta,
    account_modal,
    delete_modal,
    describe,
)
from handlers.ui.repository_form import AddMeta, saved_modal
from handlers.ui.tools import (
    GRANTS_TITLE,
    ToolMeta,
    tool_grants_modal,
    tool_modal,
    tool_remove_modal,
)
from registry import RegistryError
from storage.db import DB_ERRORS
from storage.enums import RepositoryAccess

log = logging.getLogger("handlers.views")

ADD_TITLE = N_("Image repositories")
SAVING = N_(":hourglass_flowing_sand: Saving: testing the connection first…")
TOOLS_TITLE = N_("Registered tools")
REMOVE_TITLE = N_("Remove tool")
# What saving can raise besides a UseCaseError (the use case words every refusal and
# registry answer): the database failed, or a registry error it did not word.
SAVE_FAILURES: tuple[type[Exception], ...] = (RegistryError, *DB_ERRORS)


listeners = Listeners()


def _not_saved(message: str) -> str:
    return _(":x: Not saved: {reason}").format(reason=mrkdwn(translate(message)))


def _saved_text(outcome: SaveOutcome) -> str:
    row = outcome.repository
    saved = (
        _(":white_check_mark: Saved the pull-only repository {repository} on {url} ({type}).")
        if row.access == RepositoryAccess.PULL_ONLY
        else _(":white_check_mark: Saved the app repository {repository} on {url} ({type}).")
    )
    lines = [
        saved.format(
            repository=code(row.repository), url=code(row.registry_url), type=row.type_label
        )
    ]
    if outcome.created_in_registry:
        lines.append(
            _("It was created in {where}.").format(where=mrkdwn(row.tool_name or row.type_label))
        )
    if outcome.result is not None:
        lines.append(test_result_text(outcome.result))
    else:
        lines.append(_("The connection test you just ran passed with these values."))
    lines.append(_("The project's channel was told. See it with `/imagerepo list`."))
    return "\n".join(lines)


# -- Save in the add modal -------------------------------------------------------------


@listeners.submission(ids.VIEW_ADD, ADD_TITLE, AddMeta.load)
async def add_submitted(request: Request, meta: AddMeta) -> None:
    rt, view = request.runtime, request.view
    form = add_flow.read_form(view, meta)
    actor = await request.actor()
    try:
        repositories.check_form(rt, actor, form)
        await repositories.check_tool_account(rt, actor, form, channel_id=meta.channel_id)
    except InvalidInput as error:
        await _field_errors(request, error)
        return
    try:
        ctx = await add_flow.load_context(rt, actor, meta.channel_id)
    except UseCaseError as error:
        await request.notice(ADD_TITLE, mrkdwn(error.message))
        return
    save = _AddSave(request, actor, meta, form, ctx)
    if form.creation is Creation.EXISTING and repositories.passed_recently(rt, form, save.passed):
        await save.without_network()  # the same values just passed the Connection Test
        return
    await request.ack_view(save.modal(_(SAVING)))
    final, saved = await save.run()
    await request.update(final)
    if saved:
        await deliver_outbox(rt)


async def _field_errors(request: Request, error: InvalidInput) -> None:
    await request.ack(
        response_action="errors",
        errors=field_errors(error.errors, ids.FIELD_BLOCKS, request.view, ids.B_REPOSITORY),
    )


class _AddSave:
    """Saving what the add modal holds, and the modal that says how it went."""

    def __init__(
        self,
        request: Request,
        actor: Actor,
        meta: AddMeta,
        form: RepositoryForm,
        ctx: AddContext,
    ) -> None:
        self.request, self.actor, self.meta, self.form, self.ctx = request, actor, meta, form, ctx
        self.passed = PassedTest(meta.fp, meta.fp_at)
        self.url_check = add_flow.carried(request.view, ids.B_URL_CHECK_RESULT)
        self.test_result = add_flow.carried(request.view, ids.B_TEST_RESULT)

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
            self.request.runtime,
            self.actor,
            channel_id=self.meta.channel_id,
            form=self.form,
            passed=self.passed,
        )

    async def without_network(self) -> None:
        """Save within the ack: the values' test passed moments ago."""
        try:
            outcome = await self._save()
        except InvalidInput as error:
            await _field_errors(self.request, error)
            return
        except UseCaseError as error:
            await self.request.ack_view(self.modal(_not_saved(error.message)))
            return
        await self.request.ack_view(saved_modal(self.meta, _saved_text(outcome)))
        await deliver_outbox(self.request.runtime)

    async def run(self) -> tuple[View, bool]:
        """Save after the ack (the connection is tested first): the view to show then,
        and whether it was saved."""
        try:
            outcome = await self._save()
        except ConnectionTestFailed as error:
            status, result = (
                _(":x: Not saved. {reason}").format(reason=mrkdwn(translate(error.message))),
                test_result_text(error.result),
            )
            return self.modal(status, result), False
        except InvalidInput as error:
            return self.modal(_(":x: Not saved:") + "\n" + errors_text(error.errors)), False
        except UseCaseError as error:
            return self.modal(_not_saved(error.message)), False
        except SAVE_FAILURES:
            status = went_wrong(N_(":x: Not saved: something went wrong on our side"))
            log.exception("saving a repository failed")
            return self.modal(status), False
        return saved_modal(self.meta, _saved_text(outcome)), True


# -- Save in the account modal, Delete ---------------------------------------------------


class _Manage(NamedTuple):
    """A modal of one saved entry: its title (a msgid), the use case that gives the entry
    to the person who submitted, and the builder of the modal (row, meta, *, status)."""

    title: str
    get: Callable[[Runtime, Actor, Place, int], Awaitable[RepositoryRow]]
    build: Callable[..., View]


ACCOUNT = _Manage(ACCOUNT_TITLE, repositories.get_repository, account_modal)
DELETE = _Manage(DELETE_TITLE, repositories.get_for_delete, delete_modal)


async def _entry(
    request: Request, meta: ManageMeta, modal: _Manage, working: str
) -> tuple[Actor, RepositoryRow] | None:
    """Who submitted and the entry as `modal.get` gives it to them, the modal then saying
    `working` (the ack); None (and the refusal shown) when `modal.get` refuses."""
    actor = await request.actor()
    try:
        row = await modal.get(request.runtime, actor, meta.place, meta.repository_id)
    except UseCaseError as error:
        await request.notice(modal.title, mrkdwn(error.message))
        return None
    await request.ack_view(modal.build(row, meta, status=working))
    return actor, row


async def _changed(
    request: Request, meta: ManageMeta, title: str, text: str, project_id: int
) -> None:
    """Say what was done (`title` is a msgid), send the channel's messages, refresh the
    Home tab the change was made from."""
    await request.update(notice_view(_(title), text))
    await deliver_outbox(request.runtime)
    if meta.source == "home":
        await publish_home(request, project_id=project_id)


@listeners.submission(ids.VIEW_ACCOUNT, ACCOUNT.title, ManageMeta.load)
async def account_submitted(request: Request, meta: ManageMeta) -> None:
    view = request.view
    username = text_value(view, ids.B_USERNAME, ids.A_USERNAME).strip()
    secret = text_value(view, ids.B_SECRET, ids.A_SECRET)
    if errors := repositories.account_problems(username, secret):
        await request.ack(
            response_action="errors",
            errors=field_errors(errors, ids.FIELD_BLOCKS, view, ids.B_USERNAME),
        )
        return
    testing = _(":hourglass_flowing_sand: Testing the new account…")
    entry = await _entry(request, meta, ACCOUNT, testing)
    if entry is None:
        return
    actor, row = entry
    try:
        result = await repositories.change_account(
            request.runtime, actor, meta.place, meta.repository_id, username=username, secret=secret
        )
    except InvalidInput as error:
        status = _(":x: Not changed:") + "\n" + errors_text(error.errors)
    except ConnectionTestFailed as error:
        status = test_result_text(error.result) + "\n" + _(":x: The saved account was not changed.")
    except UseCaseError as error:
        status = f":x: {mrkdwn(translate(error.message))}"
    else:
        await _changed(
            request,
            meta,
            ACCOUNT.title,
            _(":white_check_mark: The account of {entry} is now *{name}*.").format(
                entry=describe(row), name=mrkdwn(username)
            )
            + "\n"
            + test_result_text(result),
            row.project_id,
        )
        return
    await request.update(account_modal(row, meta, status=status))


@listeners.submission(ids.VIEW_DELETE, DELETE.title, ManageMeta.load)
async def delete_submitted(request: Request, meta: ManageMeta) -> None:
    checked = checked_values(request.view, ids.B_DELETE_IN_IR, ids.A_DELETE_IN_IR)
    also = ids.OPT_DELETE_IN_IR in checked
    deleting = (
        _(":hourglass_flowing_sand: Deleting in the image registry, then from the list…")
        if also
        else _(":hourglass_flowing_sand: Deleting from the list…")
    )
    entry = await _entry(request, meta, DELETE, deleting)
    if entry is None:
        return
    actor, row = entry
    try:
        await repositories.delete_repository(
            request.runtime, actor, meta.place, meta.repository_id, also_in_registry=also
        )
    except UseCaseError as error:
        await request.update(
            delete_modal(row, meta, status=f":x: {mrkdwn(translate(error.message))}")
        )
        return
    deleted = (
        _(":wastebasket: Deleted {entry} from the list and in the image registry.")
        if also
        else _(
            ":wastebasket: Deleted {entry} from the list (the image registry keeps the repository)."
        )
    ).format(entry=describe(row))
    await _changed(request, meta, DELETE.title, deleted, row.project_id)


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


@listeners.submission(ids.VIEW_TOOL, TOOLS_TITLE, ToolMeta.load)
async def tool_submitted(request: Request, meta: ToolMeta) -> None:
    rt, view = request.runtime, request.view
    tool_id = meta.tool_id or None
    kind = selected_value(view, ids.B_TOOL_KIND, ids.A_TOOL_KIND) or meta.kind
    form = _tool_form(view, kind)
    try:
        tools.validate_tool_form(form, editing=tool_id is not None)
    except InvalidInput as error:
        await request.ack(
            response_action="errors",
            errors=field_errors(error.errors, ids.TOOL_FIELD_BLOCKS, view, ids.B_TOOL_NAME),
        )
        return
    actor = await request.actor()
    current: ToolInfo | None = None
    try:
        if tool_id is None:
            await tools.start_registration(rt, actor)
        else:
            current = await tools.tool_for_edit(rt, actor, tool_id)
    except UseCaseError as error:
        await request.notice(TOOLS_TITLE, mrkdwn(error.message))
        return
    testing = _(":hourglass_flowing_sand: Testing the instance…")
    await request.ack_view(tool_modal(current, status=testing, kind=kind))
    try:
        if tool_id is None:
            saved = await tools.register_tool(rt, actor, form)
        else:
            saved = await tools.update_tool(rt, actor, tool_id, form)
    except ConnectionTestFailed as error:
        status = test_result_text(error.result) + f"\n:x: {mrkdwn(translate(error.message))}"
    except InvalidInput as error:
        status = ":x: " + mrkdwn("; ".join(translate(e) for e in error.errors.values()))
    except UseCaseError as error:
        status = f":x: {mrkdwn(translate(error.message))}"
    else:
        done = (
            _(
                ":white_check_mark: Registered *{name}* ({url}). Projects can now choose it as "
                "the Registered tool of a {kind} repository."
            )
            if tool_id is None
            else _(
                ":white_check_mark: Saved *{name}* ({url}). Projects can now choose it as "
                "the Registered tool of a {kind} repository."
            )
        )
        text = done.format(name=mrkdwn(saved.name), url=code(saved.url), kind=saved.kind_label)
        await request.update(notice_view(_(TOOLS_TITLE), text))
        return
    await request.update(tool_modal(current, status=status, kind=kind))


@listeners.submission(ids.VIEW_TOOL_REMOVE, REMOVE_TITLE, ToolMeta.load)
async def tool_remove_submitted(request: Request, meta: ToolMeta) -> None:
    tool_id = meta.tool_id
    if not tool_id:  # a Register modal's metadata: there is no tool to remove
        await request.notice(REMOVE_TITLE, metadata.FORGED)
        return
    rt, actor = request.runtime, await request.actor()
    try:
        name = await tools.remove_tool(rt, actor, tool_id)
    except UseCaseError as error:
        current = next((t for t in await tools.list_tools(rt, actor) if t.id == tool_id), None)
        view_out = (
            tool_remove_modal(current, status=f":x: {mrkdwn(translate(error.message))}")
            if current is not None
            else notice_view(_(REMOVE_TITLE), mrkdwn(translate(error.message)))
        )
        await request.ack_view(view_out)
        return
    await request.notice(
        REMOVE_TITLE,
        _(":wastebasket: Removed the registered tool *{name}*.").format(name=mrkdwn(name)),
    )


@listeners.submission(ids.VIEW_TOOL_GRANTS, GRANTS_TITLE, ToolMeta.load)
async def grant_submitted(request: Request, meta: ToolMeta) -> None:
    """`Add grant`: saved (and audited) before the ack, which shows the grants again."""
    tool_id = meta.tool_id
    if not tool_id:
        await request.notice(GRANTS_TITLE, metadata.FORGED)
        return
    view = request.view
    rt, actor = request.runtime, await request.actor()
    project_name = text_value(view, ids.B_GRANT_PROJECT, ids.A_GRANT_PROJECT)
    namespace = text_value(view, ids.B_GRANT_NAMESPACE, ids.A_GRANT_NAMESPACE)
    try:
        grants = await tools.add_grant(
            rt, actor, tool_id, project_name=project_name, namespace=namespace
        )
    except InvalidInput as error:
        await request.ack(
            response_action="errors",
            errors=field_errors(error.errors, ids.GRANT_FIELD_BLOCKS, view, ids.B_GRANT_PROJECT),
        )
        return
    except UseCaseError as error:
        await request.notice(GRANTS_TITLE, mrkdwn(translate(error.message)))
        return
    added = grants.grants
    shown = next((g for g in added if g.project_name == project_name.strip()), None)
    status = (
        _(":white_check_mark: Granted to *{project}*.").format(project=mrkdwn(shown.project_name))
        if shown is not None
        else _(":white_check_mark: Granted.")
    )
    await request.ack_view(tool_grants_modal(grants, status=status))
