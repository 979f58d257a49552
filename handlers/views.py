"""view_submission listeners: Save (add), Save (account), Delete, the tool forms.

Fast problems (a field's format) go back at once as field errors
(`response_action: errors`). Anything slower acks with `response_action: update`
showing that it is working, then `views.update` shows the outcome.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.usecases import repositories, tools
from bot.usecases.errors import InvalidInput, UseCaseError
from bot.usecases.forms import Creation
from bot.usecases.repositories import ConnectionTestFailed, PassedTest, SaveOutcome
from bot.usecases.tools import ToolForm, ToolInfo
from handlers import add_flow, ids, metadata
from handlers.home import publish_home
from handlers.support import (
    Deps,
    checked_values,
    deliver_outbox,
    field_errors,
    guarded,
    selected_value,
    text_value,
)
from handlers.ui.common import code, escape, notice_view, test_result_text
from handlers.ui.manage import ManageMeta, account_modal, delete_modal, describe
from handlers.ui.repository_form import saved_modal
from handlers.ui.repository_list import access_text
from handlers.ui.tools import tool_kind_of, tool_modal, tool_of, tool_remove_modal

log = logging.getLogger("handlers.views")

SAVING = ":hourglass_flowing_sand: Saving: testing the connection first…"


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


def register(app: AsyncApp, deps: Deps) -> None:
    rt = deps.runtime

    # -- Save in the add modal ---------------------------------------------

    @app.view(ids.VIEW_ADD)
    @guarded
    async def add_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        meta = add_flow.meta_of(view)
        if meta is None:  # not signed by this app: nothing is read from it
            await ack(
                response_action="update", view=notice_view("Image repositories", metadata.FORGED)
            )
            return
        form = add_flow.read_form(view, meta)
        actor = await deps.actor(client, body)
        try:
            repositories.check_form(rt, actor, form)
        except InvalidInput as error:
            await ack(
                response_action="errors",
                errors=field_errors(error.errors, ids.FIELD_BLOCKS, view, ids.B_REPOSITORY),
            )
            return
        try:
            ctx = await add_flow.load_context(rt, actor, meta)
        except UseCaseError as error:
            await ack(
                response_action="update",
                view=notice_view("Image repositories", escape(error.message)),
            )
            return
        url_check = add_flow.carried(view, ids.B_URL_CHECK_RESULT)
        test_result = add_flow.carried(view, ids.B_TEST_RESULT)
        passed = PassedTest(meta.fp, meta.fp_at)
        fast = form.creation is Creation.EXISTING and repositories.passed_recently(rt, form, passed)
        view_id = str(view.get("id"))

        if fast:  # the same values just passed the Connection Test: no network needed
            try:
                outcome = await repositories.save_repository(
                    rt, actor, channel_id=meta.channel_id, form=form, passed=passed
                )
            except InvalidInput as error:
                await ack(
                    response_action="errors",
                    errors=field_errors(error.errors, ids.FIELD_BLOCKS, view, ids.B_REPOSITORY),
                )
                return
            except UseCaseError as error:
                await ack(
                    response_action="update",
                    view=ctx.build(
                        meta,
                        url_check=url_check,
                        test_result=test_result,
                        status=f":x: Not saved: {escape(error.message)}",
                    ),
                )
                return
            await ack(response_action="update", view=saved_modal(meta, _saved_text(outcome)))
            await deliver_outbox(rt)
            return

        await ack(
            response_action="update",
            view=ctx.build(meta, url_check=url_check, test_result=test_result, status=SAVING),
        )
        try:
            outcome = await repositories.save_repository(
                rt, actor, channel_id=meta.channel_id, form=form, passed=passed
            )
        except ConnectionTestFailed as error:
            final = ctx.build(
                meta,
                url_check=url_check,
                test_result=test_result_text(error.result),
                status=f":x: Not saved. {escape(error.message)}",
            )
        except InvalidInput as error:
            final = ctx.build(
                meta,
                url_check=url_check,
                test_result=test_result,
                status=":x: Not saved:\n" + add_flow.errors_text(error.errors),
            )
        except UseCaseError as error:
            final = ctx.build(
                meta,
                url_check=url_check,
                test_result=test_result,
                status=f":x: Not saved: {escape(error.message)}",
            )
        except Exception:
            log.exception("saving a repository failed")
            final = ctx.build(
                meta,
                url_check=url_check,
                test_result=test_result,
                status=":x: Not saved: something went wrong on our side (it was logged).",
            )
        else:
            final = saved_modal(meta, _saved_text(outcome))
            await deps.views.update(client, view_id, final)
            await deliver_outbox(rt)
            return
        await deps.views.update(client, view_id, final)

    # -- Save in the account modal --------------------------------------------

    @app.view(ids.VIEW_ACCOUNT)
    @guarded
    async def account_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            meta = ManageMeta.load(str(view.get("private_metadata") or ""))
        except ValueError:
            await ack(
                response_action="update", view=notice_view("Edit authentication", metadata.FORGED)
            )
            return
        username = text_value(view, ids.B_USERNAME, ids.A_USERNAME).strip()
        secret = text_value(view, ids.B_SECRET, ids.A_SECRET)
        errors: dict[str, str] = {}
        if not username:
            errors[ids.B_USERNAME] = "Enter the user name."
        if not secret:
            errors[ids.B_SECRET] = (
                "Enter the password or access token (the old one is never shown)."
            )
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        actor = await deps.actor(client, body)
        try:
            row = await repositories.get_repository(rt, actor, meta.place, meta.repository_id)
        except UseCaseError as error:
            await ack(
                response_action="update",
                view=notice_view("Edit authentication", escape(error.message)),
            )
            return
        await ack(
            response_action="update",
            view=account_modal(
                row, meta, status=":hourglass_flowing_sand: Testing the new account…"
            ),
        )
        view_id = str(view.get("id"))
        try:
            result = await repositories.change_account(
                rt, actor, meta.place, meta.repository_id, username=username, secret=secret
            )
        except InvalidInput as error:
            status = ":x: Not changed:\n" + add_flow.errors_text(error.errors)
        except ConnectionTestFailed as error:
            status = test_result_text(error.result) + "\n:x: The saved account was not changed."
        except UseCaseError as error:
            status = f":x: {escape(error.message)}"
        else:
            text = (
                f":white_check_mark: The account of {describe(row)} is now "
                f"*{escape(username)}*.\n" + test_result_text(result)
            )
            await deps.views.update(client, view_id, notice_view("Edit authentication", text))
            await deliver_outbox(rt)
            if meta.source == "home":
                await publish_home(deps, client, body, project_id=row.project_id)
            return
        await deps.views.update(client, view_id, account_modal(row, meta, status=status))

    # -- Delete ------------------------------------------------------------------

    @app.view(ids.VIEW_DELETE)
    @guarded
    async def delete_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            meta = ManageMeta.load(str(view.get("private_metadata") or ""))
        except ValueError:
            await ack(
                response_action="update",
                view=notice_view("Delete image repository", metadata.FORGED),
            )
            return
        also = ids.OPT_DELETE_IN_IR in checked_values(view, ids.B_DELETE_IN_IR, ids.A_DELETE_IN_IR)
        actor = await deps.actor(client, body)
        try:
            row = await repositories.get_for_delete(rt, actor, meta.place, meta.repository_id)
        except UseCaseError as error:
            await ack(
                response_action="update",
                view=notice_view("Delete image repository", escape(error.message)),
            )
            return
        where = " in the image registry, then from the list" if also else " from the list"
        await ack(
            response_action="update",
            view=delete_modal(row, meta, status=f":hourglass_flowing_sand: Deleting{where}…"),
        )
        view_id = str(view.get("id"))
        try:
            await repositories.delete_repository(
                rt, actor, meta.place, meta.repository_id, also_in_registry=also
            )
        except UseCaseError as error:
            await deps.views.update(
                client, view_id, delete_modal(row, meta, status=f":x: {escape(error.message)}")
            )
            return
        done = "and in the image registry" if also else "(the image registry keeps the repository)"
        await deps.views.update(
            client,
            view_id,
            notice_view(
                "Delete image repository",
                f":wastebasket: Deleted {describe(row)} from the list {done}.",
            ),
        )
        await deliver_outbox(rt)
        if meta.source == "home":
            await publish_home(deps, client, body, project_id=row.project_id)

    # -- tools -------------------------------------------------------------

    @app.view(ids.VIEW_TOOL)
    @guarded
    async def tool_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            tool_id = tool_of(str(view.get("private_metadata") or "")) or None
            kind = selected_value(view, ids.B_TOOL_KIND, ids.A_TOOL_KIND) or tool_kind_of(
                str(view.get("private_metadata") or "")
            )
        except ValueError:
            await ack(
                response_action="update", view=notice_view("Registered tools", metadata.FORGED)
            )
            return
        options = checked_values(view, ids.B_TOOL_OPTIONS, ids.A_TOOL_OPTIONS)
        form = ToolForm(
            name=text_value(view, ids.B_TOOL_NAME, ids.A_TOOL_NAME),
            url=text_value(view, ids.B_TOOL_URL, ids.A_TOOL_URL),
            username=text_value(view, ids.B_TOOL_USERNAME, ids.A_TOOL_USERNAME).strip() or None,
            secret=text_value(view, ids.B_TOOL_SECRET, ids.A_TOOL_SECRET) or None,
            ca_bundle_pem=text_value(view, ids.B_TOOL_CA, ids.A_TOOL_CA).strip() or None,
            insecure=ids.OPT_INSECURE in options,
            kind=kind,
        )
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
            await ack(response_action="update", view=notice_view("Registered tools", error.message))
            return
        await ack(
            response_action="update",
            view=tool_modal(
                current, status=":hourglass_flowing_sand: Testing the instance…", kind=kind
            ),
        )
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
            await deps.views.update(
                client,
                view_id,
                notice_view(
                    "Registered tools",
                    f":white_check_mark: {verb} *{escape(saved.name)}* ({code(saved.url)}). "
                    "Projects can now choose it as the Registered tool of a "
                    f"{saved.kind_label} repository.",
                ),
            )
            return
        await deps.views.update(client, view_id, tool_modal(current, status=status, kind=kind))

    @app.view(ids.VIEW_TOOL_REMOVE)
    @guarded
    async def tool_remove_submitted(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        try:
            tool_id = tool_of(str(view.get("private_metadata") or ""))
        except ValueError:
            tool_id = 0
        if not tool_id:
            await ack(response_action="update", view=notice_view("Remove tool", metadata.FORGED))
            return
        actor = await deps.actor(client, body)
        try:
            name = await tools.remove_tool(rt, actor, tool_id)
        except UseCaseError as error:
            current = next((t for t in await tools.list_tools(rt, actor) if t.id == tool_id), None)
            view_out = (
                tool_remove_modal(current, status=f":x: {escape(error.message)}")
                if current is not None
                else notice_view("Remove tool", escape(error.message))
            )
            await ack(response_action="update", view=view_out)
            return
        await ack(
            response_action="update",
            view=notice_view(
                "Remove Harbor", f":wastebasket: Removed the registered tool *{escape(name)}*."
            ),
        )
