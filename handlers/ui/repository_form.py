"""The `Add image repository` modal (and its pull-only twin).

The modal is rebuilt from `AddMeta` (kept in private_metadata: ids and a digest,
never a value the user typed) every time it changes shape. Block ids are
stable, so Slack keeps what the user typed across `views.update`; the secret
input never gets an initial value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ExternalDataSelectElement,
    InputBlock,
    Option,
    PlainTextInputElement,
    RadioButtonsElement,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.usecases.forms import Creation, Field
from bot.usecases.tools import ToolInfo
from handlers import ids, metadata
from handlers.ui.common import button_row, code, context, form_modal, mrkdwn, plain, section
from handlers.ui.fields import OPTIONS, ca_bundle_input, label, secret_input
from handlers.ui.i18n import N_, _
from handlers.ui.text import OPTION_VALUE_MAX, VIEW_TITLE_MAX
from registry import ALL_TYPES, RegistryType, type_info
from registry.kinds import ToolKind, TypeInfo
from storage.enums import RepositoryAccess

SELECT_OPTIONS_MAX = 100  # Slack: options of a static select / a block_suggestion answer

CREATION_LABELS = {
    Creation.NEW.value: N_("Create new repository"),
    Creation.EXISTING.value: N_("Use existing repository"),
}


@dataclass(frozen=True)
class AddMeta:
    """What the modal remembers between requests (signed private_metadata, ids only)."""

    access: str
    channel_id: str
    registry_type: str = RegistryType.IMAGE_REGISTRY.value
    creation: str = Creation.EXISTING.value
    fp: str = ""  # form_fingerprint of the last passing Connection Test
    fp_at: int = 0  # when it passed (seconds since the epoch): it counts for 15 minutes

    @property
    def pull_only(self) -> bool:
        return self.access == RepositoryAccess.PULL_ONLY.value

    def dump(self) -> str:
        return metadata.seal("add", asdict(self))

    @classmethod
    def load(cls, text: str) -> AddMeta:
        """ForgedMetadata (a ValueError) unless this app signed it."""
        data = metadata.unseal("add", text)
        if str(data.get("access", RepositoryAccess.APP.value)) not in {
            a.value for a in RepositoryAccess
        }:
            raise ValueError("unknown access")
        fp_at = data.get("fp_at", 0)
        return cls(
            access=str(data.get("access", RepositoryAccess.APP.value)),
            channel_id=str(data.get("channel_id", "")),
            registry_type=str(data.get("registry_type", RegistryType.IMAGE_REGISTRY.value)),
            creation=str(data.get("creation", Creation.EXISTING.value)),
            fp=str(data.get("fp", "")),
            fp_at=fp_at if isinstance(fp_at, int) else 0,
        )

    def with_type(self, registry_type: str) -> AddMeta:
        return replace(self, registry_type=registry_type, creation=Creation.EXISTING.value)


def _option(value: str, label: str) -> Option:
    return Option(value=value, text=plain(label))


def harbor_project_options(names: Sequence[str]) -> list[Option]:
    """block_suggestion options for the namespace picker (`ToolKind.namespace_picker`, 100
    at most).

    A name longer than an option value may be (150) cannot come back intact, so
    it is left out: the user types PROJECT/NAME in Repository instead (the hint
    says so). The text is cut with "…" to Slack's 75 characters.
    """
    fitting = [name for name in names if 0 < len(name) <= OPTION_VALUE_MAX]
    return [Option(value=name, text=plain(name)) for name in fitting[:SELECT_OPTIONS_MAX]]


def tool_options(tools: Sequence[ToolInfo], query: str = "") -> list[Option]:
    """A tool select's options: the tools whose name or URL holds the typed text, 100 at
    most (a static select's and a block_suggestion answer's limit)."""
    wanted = query.strip().lower()
    chosen = [t for t in tools if wanted in t.name.lower() or wanted in t.url.lower()]
    return [_option(str(t.id), f"{t.name} ({t.url})") for t in chosen[:SELECT_OPTIONS_MAX]]


def tool_select(
    tools: Sequence[ToolInfo], placeholder: str
) -> StaticSelectElement | ExternalDataSelectElement:
    """Up to 100 tools of a kind: a static select. More: an external select whose options
    come from block_suggestion (handlers/options.py), filtered by what the user types,
    so the 101st tool can be chosen too."""
    if len(tools) <= SELECT_OPTIONS_MAX:
        return StaticSelectElement(
            action_id=ids.A_TOOL, placeholder=plain(placeholder), options=tool_options(tools)
        )
    return ExternalDataSelectElement(
        action_id=ids.A_TOOL, placeholder=plain(placeholder), min_query_length=0
    )


def tools_of_type(tools: Sequence[ToolInfo], registry_type: str) -> list[ToolInfo]:
    """Only tools of the chosen type (a tool's kind is its type); none for a type that
    takes no registered tool."""
    info = type_info(registry_type)
    return [t for t in tools if t.kind == info.type.value] if info.takes_registered_tool else []


def title_for(meta: AddMeta) -> str:
    return _("Add pull-only repository") if meta.pull_only else _("Add image repository")


def add_modal(
    meta: AddMeta,
    *,
    project_name: str,
    tools: Sequence[ToolInfo],
    dockerhub_url: str,
    url_check: str | None = None,
    test_result: str | None = None,
    status: str | None = None,
) -> View:
    """The whole modal: its sections in order, each built by its own function."""
    info = type_info(meta.registry_type)
    tools = tools_of_type(tools, meta.registry_type)
    blocks: list[Block] = [
        *_type_section(meta, info, project_name),
        _creation_section(meta, info),
        *_where_section(meta, info, tools, dockerhub_url, url_check),
        *_account_section(meta, info),
        *_test_section(info, test_result),
    ]
    return form_modal(
        ids.VIEW_ADD, meta, title=title_for(meta), submit=_("Save"), blocks=blocks, status=status
    )


def _type_section(meta: AddMeta, info: TypeInfo, project_name: str) -> list[Block]:
    """What the modal adds, and the repository type select (it rebuilds the modal)."""
    intro = (
        _("Add an pull-only image repository to project *{project}*.")
        if meta.pull_only
        else _("Add an app image repository to project *{project}*.")
    ).format(project=mrkdwn(project_name))
    purpose = (
        _("The connection test checks *pull* access only.")
        if meta.pull_only
        else _("The connection test checks *pull and push* access (CI pushes here).")
    )
    return [
        section(ids.B_INTRO, f"{intro} {purpose}"),
        InputBlock(
            block_id=ids.B_TYPE,
            label=label(Field.REGISTRY_TYPE),
            dispatch_action=True,
            element=StaticSelectElement(
                action_id=ids.A_TYPE,
                placeholder=plain(_("Choose a type")),
                options=[_option(t.value, type_info(t).label) for t in ALL_TYPES],
                initial_option=_option(info.type.value, info.label),
            ),
        ),
    ]


def _creation_section(meta: AddMeta, info: TypeInfo) -> Block:
    """Create new / use existing; a type that cannot create shows the one choice it has."""
    existing = _option(Creation.EXISTING.value, _(CREATION_LABELS[Creation.EXISTING.value]))
    if not info.can_create:
        return InputBlock(
            block_id=ids.B_CREATION_FIXED,
            label=label(Field.CREATION),
            hint=plain(
                _(
                    "{type} offers only Use existing repository: the registry "
                    "creates a repository on its first push."
                ).format(type=info.label),
                150,
            ),
            element=RadioButtonsElement(
                action_id=ids.A_CREATION, options=[existing], initial_option=existing
            ),
        )
    creation_options = [
        _option(Creation.NEW.value, _(CREATION_LABELS[Creation.NEW.value])),
        existing,
    ]
    chosen = meta.creation if meta.creation in CREATION_LABELS else Creation.EXISTING.value
    return InputBlock(
        block_id=ids.B_CREATION,
        label=label(Field.CREATION),
        dispatch_action=True,
        element=RadioButtonsElement(
            action_id=ids.A_CREATION,
            options=creation_options,
            initial_option=_option(chosen, _(CREATION_LABELS[chosen])),
        ),
    )


def _where_section(
    meta: AddMeta,
    info: TypeInfo,
    tools: Sequence[ToolInfo],
    dockerhub_url: str,
    url_check: str | None,
) -> list[Block]:
    """Where the repository lives: a registered tool, a URL to check, or the fixed registry."""
    if info.needs_registered_tool and info.tool is not None:
        return _tool_blocks(meta, info.tool, tools)
    if info.has_url_check:
        hosted = [_hosted_tool_block(info.tool, tools)] if tools and info.tool else []
        return hosted + _url_blocks(info, url_check, with_tool=bool(tools))
    return [
        context(
            ids.B_DOCKERHUB,
            _("{type} registry: {url}").format(type=info.label, url=code(dockerhub_url)),
        )
    ]


def _tool_blocks(meta: AddMeta, kind: ToolKind, tools: Sequence[ToolInfo]) -> list[Block]:
    """A type that requires a registered tool: the tool, and under "Use existing" the
    kind's namespace picker when it has one."""
    if not tools:
        return [section(ids.B_NO_TOOL, _(kind.none_registered))]
    blocks: list[Block] = [
        InputBlock(
            block_id=ids.B_TOOL,
            label=label(Field.TOOL),
            element=tool_select(tools, _(kind.choose)),
        )
    ]
    if meta.creation != Creation.NEW.value and kind.namespace_picker is not None:
        blocks.append(
            InputBlock(
                block_id=ids.B_HARBOR_PROJECT,
                label=plain(_(kind.namespace_picker)),
                optional=True,
                hint=plain(
                    _(
                        "Existing projects of the chosen tool; the repository is then "
                        "the name inside it. Or type project/name below."
                    ),
                    150,
                ),
                element=ExternalDataSelectElement(
                    action_id=ids.A_HARBOR_PROJECT,
                    placeholder=plain(_("Search projects")),
                    min_query_length=0,
                ),
            )
        )
    return blocks


def _hosted_tool_block(kind: ToolKind, tools: Sequence[ToolInfo]) -> InputBlock:
    """An optional registered tool whose API token creates the repository or checks its
    project (`ToolKind.tool_hint` says which), and deletes in IR."""
    return InputBlock(
        block_id=ids.B_TOOL,
        label=label(Field.TOOL),
        optional=True,
        hint=plain(_(kind.tool_hint), 150) if kind.tool_hint else None,
        element=tool_select(tools, _("None: your own token")),
    )


def _url_hint(info: TypeInfo, *, with_tool: bool) -> str:
    if with_tool and info.tool is not None and info.tool.serves_registry:
        return _("{url} or your own; empty with a registered tool: its URL").format(
            url=info.default_url
        )
    if info.default_url:
        return _("{url}, or your own (self-managed) registry's base URL").format(
            url=info.default_url
        )
    return _("The registry's base URL, e.g. https://registry.example.com:5000")


def _url_blocks(info: TypeInfo, url_check: str | None, *, with_tool: bool) -> list[Block]:
    blocks: list[Block] = [
        InputBlock(
            block_id=ids.B_REGISTRY_URL,
            label=label(Field.REGISTRY_URL),
            hint=plain(_url_hint(info, with_tool=with_tool), 150),
            optional=info.default_url is not None,
            element=PlainTextInputElement(
                action_id=ids.A_REGISTRY_URL,
                placeholder=plain(info.default_url or "https://registry.example.com"),
                max_length=2048,
            ),
        ),
        button_row(ids.B_URL_CHECK, _("URL Check"), ids.A_URL_CHECK),
    ]
    if url_check:
        blocks.append(context(ids.B_URL_CHECK_RESULT, url_check))
    return blocks


def _repository_hint(meta: AddMeta, info: TypeInfo) -> str:
    """The type's own words for the name (its row's hints), else the generic example."""
    if meta.creation == Creation.NEW.value and info.new_repository_hint:
        return _(info.new_repository_hint)
    if info.existing_repository_hint:
        return _(info.existing_repository_hint)
    return _("e.g. {example}; lowercase, no tag or digest").format(example=info.repository_hint)


def _account_section(meta: AddMeta, info: TypeInfo) -> list[Block]:
    """The repository's name, the account, and (for a URL) its CA bundle."""
    blocks: list[Block] = [
        InputBlock(
            block_id=ids.B_REPOSITORY,
            label=label(Field.REPOSITORY),
            hint=plain(_repository_hint(meta, info), 150),
            element=PlainTextInputElement(
                action_id=ids.A_REPOSITORY, placeholder=plain("team/app"), max_length=255
            ),
        ),
        InputBlock(
            block_id=ids.B_USERNAME,
            label=label(Field.USERNAME),
            optional=True,
            hint=plain(_(info.credentials_hint), 150) if info.credentials_hint else None,
            element=PlainTextInputElement(action_id=ids.A_USERNAME, max_length=255),
        ),
        secret_input(
            ids.B_SECRET,
            ids.A_SECRET,
            label(Field.SECRET),
            advice=_(
                "Stored encrypted and never shown again. Slack shows it while you type: "
                "prefer an access token."
            ),
            optional=True,
        ),
    ]
    if info.has_url_check:
        blocks.append(
            ca_bundle_input(
                ids.B_CA_BUNDLE,
                ids.A_CA_BUNDLE,
                _("For a registry whose certificate a private CA signed."),
            )
        )
    return blocks


def _test_section(info: TypeInfo, test_result: str | None) -> list[Block]:
    """Options, the Connection Test button, and the latest result."""
    options = [
        _option(
            ids.OPT_SAVE_UNHEALTHY, _("Save even if the connection test fails (project admins)")
        )
    ]
    if info.has_url_check:
        options.insert(0, _option(ids.OPT_INSECURE, _("Skip TLS certificate verification")))
    blocks: list[Block] = [
        InputBlock(
            block_id=ids.B_OPTIONS,
            label=plain(_(OPTIONS)),
            optional=True,
            element=CheckboxesElement(action_id=ids.A_OPTIONS, options=options),
        ),
        button_row(ids.B_TEST, _("Connection Test"), ids.A_TEST),
    ]
    if test_result:
        blocks.append(section(ids.B_TEST_RESULT, test_result))
    return blocks


def saved_modal(meta: AddMeta, text: str) -> View:
    return View(
        type="modal",
        callback_id=ids.VIEW_NOTICE,
        title=plain(title_for(meta), VIEW_TITLE_MAX),
        close=plain(_("Done"), VIEW_TITLE_MAX),
        blocks=[section(ids.B_STATUS, text)],
    )
