"""Modals for a saved repository: change its account, delete it, see a test's result."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    InputBlock,
    Option,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from bot.usecases.forms import Field
from bot.usecases.permissions import Place
from bot.usecases.repositories import RepositoryRow
from handlers import ids, metadata
from handlers.ui.channel import access_text
from handlers.ui.common import code, form_modal, mrkdwn, plain, section
from handlers.ui.fields import label, secret_input
from handlers.ui.i18n import N_, _, translate

ACCOUNT_TITLE = N_("Edit authentication")  # Slack: 24 characters at most
ACCOUNT_HEADING = N_("Edit authentication information")
DELETE_TITLE = N_("Delete image repository")


@dataclass(frozen=True)
class ManageMeta:
    """Signed private_metadata of the account and delete modals: ids only."""

    repository_id: int
    source: str = ""  # "home" when opened from the App Home tab (it is re-published)
    channel_id: str = ""  # the channel whose list it was opened from (not from Home)

    @property
    def place(self) -> Place:
        return Place.home() if self.source == "home" else Place.channel(self.channel_id)

    def dump(self) -> str:
        return metadata.seal("manage", asdict(self))

    @classmethod
    def load(cls, text: str) -> ManageMeta:
        """ForgedMetadata (a ValueError) unless this app signed it."""
        data = metadata.unseal("manage", text)
        repository_id = data.get("repository_id")
        if not isinstance(repository_id, int) or not 0 < repository_id < 2**63:
            raise metadata.ForgedMetadata("not a database id")
        return cls(
            repository_id=repository_id,
            source=str(data.get("source", "")),
            channel_id=str(data.get("channel_id", "")),
        )


def describe(row: RepositoryRow) -> str:
    return _("{repository} on {url} ({type}, {access})").format(
        repository=code(row.repository),
        url=code(row.registry_url),
        type=row.type_label,
        access=access_text(row.access),
    )


def account_modal(row: RepositoryRow, meta: ManageMeta, *, status: str | None = None) -> View:
    blocks: list[Block] = [
        section(
            ids.B_ACCOUNT_INTRO,
            f"*{_(ACCOUNT_HEADING)}*\n{describe(row)}\n"
            + _(
                "The new account is tested against the saved URL before it replaces the old "
                "one. Only you see this window; the old password is never shown."
            ),
        ),
        InputBlock(
            block_id=ids.B_USERNAME,
            label=label(Field.USERNAME),
            element=PlainTextInputElement(
                action_id=ids.A_USERNAME, initial_value=row.username or None, max_length=255
            ),
        ),
        secret_input(ids.B_SECRET, ids.A_SECRET, label(Field.SECRET)),
    ]
    return form_modal(
        ids.VIEW_ACCOUNT,
        meta,
        title=_(ACCOUNT_TITLE),
        submit=_("Save"),
        blocks=blocks,
        status=status,
    )


def delete_modal(row: RepositoryRow, meta: ManageMeta, *, status: str | None = None) -> View:
    blocks: list[Block] = [
        section(
            ids.B_DELETE_INTRO,
            _("Delete the image repository {entry} from this project's list?").format(
                entry=describe(row)
            ),
        )
    ]
    if row.can_delete_in_ir and row.delete_blocker:
        blocks.append(
            section(
                ids.B_DELETE_IN_IR,
                _(
                    ":no_entry: The saved account cannot delete it in the registry: "
                    "{reason} Delete removes it from this list only; the registry keeps it."
                ).format(reason=mrkdwn(translate(row.delete_blocker))),
            )
        )
    elif row.can_delete_in_ir:
        blocks.append(
            InputBlock(
                block_id=ids.B_DELETE_IN_IR,
                label=plain(_("Image registry")),
                optional=True,
                hint=plain(
                    _(
                        "Ticked: the repository and its images are deleted in the image "
                        "registry first, then from the list. Unticked: only from the list."
                    ),
                    150,
                ),
                element=CheckboxesElement(
                    action_id=ids.A_DELETE_IN_IR,
                    options=[
                        Option(
                            value=ids.OPT_DELETE_IN_IR,
                            text=plain(_("Also delete the repository in IR")),
                        )
                    ],
                ),
            )
        )
    else:
        blocks.append(
            section(
                ids.B_DELETE_IN_IR,
                _(
                    "{type} repositories are removed from the list only; the registry keeps them."
                ).format(type=row.type_label),
            )
        )
    return form_modal(
        ids.VIEW_DELETE,
        meta,
        title=_(DELETE_TITLE),
        submit=_("Delete"),
        blocks=blocks,
        status=status,
    )
