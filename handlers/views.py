"""view_submission listeners: Save (add), Save (account), Delete, the tool forms.

Fast problems (a field's format) go back at once as field errors
(`response_action: errors`). Anything slower acks with `response_action: update`
showing that it is working, then `views.update` shows the outcome.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from slack_bolt.async_app import AsyncAck
from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

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
from handlers.guard import ListenerFn, Listeners
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
from storage.enums import RepositoryAccess

log = logging.getLogger("handlers.views")

SAVING = N_(":hourglass_flowing_sand: Saving: testing the connection first…")
TOOLS_TITLE = N_("Registered tools")
REMOVE_TITLE = N_("Remove tool")


listeners = Listeners()
M = TypeVar("M")


async def _update_with(ack: AsyncAck, view: View) -> None:
    await ack(response_action="update", view=view)


async def _notice(ack: AsyncAck, title: str, text: str) -> None:
    await _update_with(ack, notice_view(_(title), text))  # titles are msgids


@dataclass(frozen=True)
class Submission(Generic[M]):
    """A submitted modal whose private_metadata this app signed (`meta`, as read), and what
    answering it needs; `title` heads the notices that answer it."""

    ack: AsyncAck
    deps: Deps
    client: AsyncWebClient
    body: dict[str, Any]
    view: dict[str, Any]
    title: str
    meta: M

    @property
    def runtime(self) -> Runtime:
        return self.deps.runtime

    async def actor(self) -> Actor:
        return await self.deps.actor(self.client, self.body)

    async def notice(self, text: str) -> None:
        """Answer with a notice, within the ack."""
        await _notice(self.ack, self.title, text)

    async def show(self, view: View) -> None:
        """Replace the modal after the ack."""
        await self.deps.views.update(self.client, str(self.view.get("id")), view)


def _signed(
    title: str, load: Callable[[str], M]
) -> Callable[[Callable[[Submission[M]], Awaitable[None]]], ListenerFn]:
    """A submission listener: `handle(submission)` once `load` has read the modal's
    private_metadata; when this app did not sign it (`load` raises a ValueError) nothing is
    read from the modal and the user is told."""

    def wrap(handle: Callable[[Submission[M]], Awaitable[None]]) -> ListenerFn:
        async def listener(
            ack: AsyncAck,
            body: dict[str, Any],
            view: dict[str, Any],
            client: AsyncWebClient,
            deps: Deps,
        ) -> None:
            try:
                meta = load(str(view.get("private_metadata") or ""))
            except ValueError:
                await _notice(ack, title, metadata.FORGED)
                return
            await handle(Submission(ack, deps, client, body, view, title, meta))

        listener.__name__ = listener.__qualname__ = handle.__name__  # as logged by the guard
        return listener

    return wrap


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


@listeners.view(ids.VIEW_ADD)
@_signed(N_("Image repositories"), AddMeta.load)
async def add_submitted(sub: Submission[AddMeta]) -> None:
    rt, view, meta = sub.runtime, sub.view, sub.meta
    form = add_flow.read_form(view, meta)
    actor = await sub.actor()
    try:
        repositories.check_form(rt, actor, form)
        await repositories.check_tool_account(rt, actor, form, channel_id=meta.channel_id)
    except InvalidInput as error:
        await _field_errors(sub.ack, error, view)
        return
    try:
        ctx = await add_flow.load_context(rt, actor, meta)
    except UseCaseError as error:
        await sub.notice(mrkdwn(error.message))
        return
    save = _AddSave(sub.deps, actor, meta, form, ctx, view)
    if form.creation is Creation.EXISTING and repositories.passed_recently(rt, form, save.passed):
        await save.without_network(sub.ack)  # the same values just passed the Connection Test
        return
    await _update_with(sub.ack, save.modal(_(SAVING)))
    final, saved = await save.run()
    await sub.show(final)
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
            await _update_with(ack, self.modal(_not_saved(error.message)))
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
                _(":x: Not saved. {reason}").format(reason=mrkdwn(translate(error.message))),
                test_result_text(error.result),
            )
            return self.modal(status, result), False
        except InvalidInput as error:
            return self.modal(_(":x: Not saved:") + "\n" + errors_text(error.errors)), False
        except UseCaseError as error:
            return self.modal(_not_saved(error.message)), False
        except Exception:
            status = went_wrong(N_(":x: Not saved: something went wrong on our side"))
            log.exception("saving a repository failed")
            return self.modal(status), False
        return saved_modal(self.meta, _saved_text(outcome)), True


# -- Save in the account modal, Delete ---------------------------------------------------


EntryGetter = Callable[[Runtime, Actor, Place, int], Awaitable[RepositoryRow]]
ManageModalFn = Callable[..., View]  # account_modal / delete_modal: (row, meta, *, status)


async def _entry(
    sub: Submission[ManageMeta], get: EntryGetter, build: ManageModalFn, working: str
) -> tuple[Actor, RepositoryRow] | None:
    """Who submitted and the entry as `get` (a use case) gives it to them, the modal `build`
    makes then saying `working` (the ack); None (and the refusal shown) when `get` refuses."""
    actor = await sub.actor()
    try:
        row = await get(sub.runtime, actor, sub.meta.place, sub.meta.repository_id)
    except UseCaseError as error:
        await sub.notice(mrkdwn(error.message))
        return None
    await _update_with(sub.ack, build(row, sub.meta, status=working))
    return actor, row


async def _changed(sub: Submission[ManageMeta], text: str, project_id: int) -> None:
    """Say what was done, send the channel's messages, refresh the Home tab the change was
    made from."""
    await sub.show(notice_view(sub.title, text))
    await deliver_outbox(sub.runtime)
    if sub.meta.source == "home":
        await publish_home(sub.deps, sub.client, sub.body, project_id=project_id)


@listeners.view(ids.VIEW_ACCOUNT)
@_signed(ACCOUNT_TITLE, ManageMeta.load)
async def account_submitted(sub: Submission[ManageMeta]) -> None:
    view, meta = sub.view, sub.meta
    username = text_value(view, ids.B_USERNAME, ids.A_USERNAME).strip()
    secret = text_value(view, ids.B_SECRET, ids.A_SECRET)
    if errors := repositories.account_problems(username, secret):
        await sub.ack(
            response_action="errors",
            errors=field_errors(errors, ids.FIELD_BLOCKS, view, ids.B_USERNAME),
        )
        return
    testing = _(":hourglass_flowing_sand: Testing the new account…")
    entry = await _entry(sub, repositories.get_repository, account_modal, testing)
    if entry is None:
        return
    actor, row = entry
    try:
        result = await repositories.change_account(
            sub.runtime, actor, meta.place, meta.repository_id, username=username, secret=secret
        )
    except InvalidInput as error:
        status = _(":x: Not changed:") + "\n" + errors_text(error.errors)
    except ConnectionTestFailed as error:
        status = test_result_text(error.result) + "\n" + _(":x: The saved account was not changed.")
    except UseCaseError as error:
        status = f":x: {mrkdwn(translate(error.message))}"
    else:
        await _changed(
            sub,
            _(":white_check_mark: The account of {entry} is now *{name}*.").format(
                entry=describe(row), name=mrkdwn(username)
            )
            + "\n"
            + test_result_text(result),
            row.project_id,
        )
        return
    await sub.show(account_modal(row, meta, status=status))


@listeners.view(ids.VIEW_DELETE)
@_signed(DELETE_TITLE, ManageMeta.load)
async def delete_submitted(sub: Submission[ManageMeta]) -> None:
    view, meta = sub.view, sub.meta
    also = ids.OPT_DELETE_IN_IR in checked_values(view, ids.B_DELETE_IN_IR, ids.A_DELETE_IN_IR)
    deleting = (
        _(":hourglass_flowing_sand: Deleting in the image registry, then from the list…")
        if also
        else _(":hourglass_flowing_sand: Deleting from the list…")
    )
    entry = await _entry(sub, repositories.get_for_delete, delete_modal, deleting)
    if entry is None:
        return
    actor, row = entry
    try:
        await repositories.delete_repository(
            sub.runtime, actor, meta.place, meta.repository_id, also_in_registry=also
        )
    except UseCaseError as error:
        await sub.show(delete_modal(row, meta, status=f":x: {mrkdwn(translate(error.message))}"))
        return
    deleted = (
        _(":wastebasket: Deleted {entry} from the list and in the image registry.")
        if also
        else _(
            ":wastebasket: Deleted {entry} from the list (the image registry keeps the repository)."
        )
    ).format(entry=describe(row))
    await _changed(sub, deleted, row.project_id)


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
@_signed(TOOLS_TITLE, ToolMeta.load)
async def tool_submitted(sub: Submission[ToolMeta]) -> None:
    rt, view = sub.runtime, sub.view
    tool_id = sub.meta.tool_id or None
    kind = selected_value(view, ids.B_TOOL_KIND, ids.A_TOOL_KIND) or sub.meta.kind
    form = _tool_form(view, kind)
    try:
        tools.validate_tool_form(form, editing=tool_id is not None)
    except InvalidInput as error:
        await sub.ack(
            response_action="errors",
            errors=field_errors(error.errors, ids.TOOL_FIELD_BLOCKS, view, ids.B_TOOL_NAME),
        )
        return
    actor = await sub.actor()
    current: ToolInfo | None = None
    try:
        if tool_id is None:
            await tools.start_registration(rt, actor)
        else:
            current = await tools.tool_for_edit(rt, actor, tool_id)
    except UseCaseError as error:
        await sub.notice(mrkdwn(error.message))
        return
    testing = _(":hourglass_flowing_sand: Testing the instance…")
    await _update_with(sub.ack, tool_modal(current, status=testing, kind=kind))
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
        await sub.show(notice_view(_(TOOLS_TITLE), text))
        return
    await sub.show(tool_modal(current, status=status, kind=kind))


@listeners.view(ids.VIEW_TOOL_REMOVE)
@_signed(REMOVE_TITLE, ToolMeta.load)
async def tool_remove_submitted(sub: Submission[ToolMeta]) -> None:
    tool_id = sub.meta.tool_id
    if not tool_id:  # a Register modal's metadata: there is no tool to remove
        await sub.notice(metadata.FORGED)
        return
    rt, actor = sub.runtime, await sub.actor()
    try:
        name = await tools.remove_tool(rt, actor, tool_id)
    except UseCaseError as error:
        current = next((t for t in await tools.list_tools(rt, actor) if t.id == tool_id), None)
        view_out = (
            tool_remove_modal(current, status=f":x: {mrkdwn(translate(error.message))}")
            if current is not None
            else notice_view(_(REMOVE_TITLE), mrkdwn(translate(error.message)))
        )
        await _update_with(sub.ack, view_out)
        return
    await sub.notice(
        _(":wastebasket: Removed the registered tool *{name}*.").format(name=mrkdwn(name))
    )


@listeners.view(ids.VIEW_TOOL_GRANTS)
@_signed(GRANTS_TITLE, ToolMeta.load)
async def grant_submitted(sub: Submission[ToolMeta]) -> None:
    """`Add grant`: saved (and audited) before the ack, which shows the grants again."""
    tool_id = sub.meta.tool_id
    if not tool_id:
        await sub.notice(metadata.FORGED)
        return
    view = sub.view
    rt, actor = sub.runtime, await sub.actor()
    project_name = text_value(view, ids.B_GRANT_PROJECT, ids.A_GRANT_PROJECT)
    namespace = text_value(view, ids.B_GRANT_NAMESPACE, ids.A_GRANT_NAMESPACE)
    try:
        grants = await tools.add_grant(
            rt, actor, tool_id, project_name=project_name, namespace=namespace
        )
    except InvalidInput as error:
        await sub.ack(
            response_action="errors",
            errors=field_errors(error.errors, ids.GRANT_FIELD_BLOCKS, view, ids.B_GRANT_PROJECT),
        )
        return
    except UseCaseError as error:
        await sub.notice(mrkdwn(translate(error.message)))
        return
    added = grants.grants
    shown = next((g for g in added if g.project_name == project_name.strip()), None)
    status = (
        _(":white_check_mark: Granted to *{project}*.").format(project=mrkdwn(shown.project_name))
        if shown is not None
        else _(":white_check_mark: Granted.")
    )
    await _update_with(sub.ack, tool_grants_modal(grants, status=status))
