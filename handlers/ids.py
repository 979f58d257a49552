"""Stable callback, block and action ids: Slack sends them back, tests find fields by them.

Block ids never change between two versions of a modal (Slack keeps what the
user typed in a block only while its block_id stays the same).
"""

from __future__ import annotations

from bot.usecases.forms import Field
from bot.usecases.tools import GrantField, ToolField

# -- views (callback ids) ---------------------------------------------------
VIEW_ADD = "repository_add"
VIEW_ACCOUNT = "repository_account"
VIEW_DELETE = "repository_delete"
VIEW_TOOL = "tool_form"
VIEW_TOOL_REMOVE = "tool_remove"
VIEW_NOTICE = "notice"

# -- add modal: blocks ------------------------------------------------------
B_INTRO = "intro"
B_TYPE = "registry_type"
B_CREATION = "creation"  # types that can create: new or existing
B_CREATION_FIXED = "creation_existing"  # types that can only use an existing repository
B_TOOL = "tool"
B_NO_TOOL = "no_tool"
B_HARBOR_PROJECT = "harbor_project"
B_REGISTRY_URL = "registry_url"
B_URL_CHECK = "url_check"
B_URL_CHECK_RESULT = "url_check_result"
B_DOCKERHUB = "dockerhub_url"
B_REPOSITORY = "repository"
B_USERNAME = "username"
B_SECRET = "secret"
B_CA_BUNDLE = "ca_bundle"
B_OPTIONS = "options"
B_TEST = "connection_test"
B_TEST_RESULT = "test_result"
B_STATUS = "status"

# -- add modal: actions -----------------------------------------------------
A_TYPE = "registry_type_select"
A_CREATION = "creation_choice"
A_TOOL = "tool_select"
A_HARBOR_PROJECT = "harbor_project_select"
A_REGISTRY_URL = "registry_url_input"
A_URL_CHECK = "url_check_button"
A_REPOSITORY = "repository_input"
A_USERNAME = "username_input"
A_SECRET = "secret_input"
A_CA_BUNDLE = "ca_bundle_input"
A_OPTIONS = "options_choice"
A_TEST = "connection_test_button"

OPT_INSECURE = "insecure"
OPT_SAVE_UNHEALTHY = "save_unhealthy"

# Form fields (use case error keys) -> the block that shows the message.
FIELD_BLOCKS: dict[str, str] = {
    Field.REGISTRY_TYPE: B_TYPE,
    Field.CREATION: B_CREATION,
    Field.TOOL: B_TOOL,
    Field.REGISTRY_URL: B_REGISTRY_URL,
    Field.REPOSITORY: B_REPOSITORY,
    Field.USERNAME: B_USERNAME,
    Field.SECRET: B_SECRET,
    Field.CA_BUNDLE: B_CA_BUNDLE,
}

# -- an incident's alert in the channel (handlers/alerts.py) -------------------
A_ALERT_TEST_IN_THREAD = "alert_test_in_thread"
A_ALERT_ACCOUNT = "alert_change_account"
A_ALERT_SNOOZE = "alert_snooze"

# -- list (message and App Home) -------------------------------------------
A_ROW_MENU = "repository_menu"
A_PAGE = "list_page"
A_HOME_PROJECT = "home_project_select"
# The Connection Test button of alerts posted by versions before incidents (still answered).
A_ALERT_TEST = "alert_connection_test"
B_HOME_PROJECT = "home_project"
MENU_TEST = "test"
MENU_ACCOUNT = "account"
MENU_DELETE = "delete"

# -- account modal ----------------------------------------------------------
B_ACCOUNT_INTRO = "account_intro"

# -- delete modal -----------------------------------------------------------
B_DELETE_INTRO = "delete_intro"
B_DELETE_IN_IR = "delete_in_ir"
A_DELETE_IN_IR = "delete_in_ir_choice"
OPT_DELETE_IN_IR = "also_in_registry"

# -- tools ------------------------------------------------------------------
A_TOOL_REGISTER = "tool_register"
A_TOOL_MENU = "tool_menu"
B_TOOL_KIND = "tool_kind"
A_TOOL_KIND = "tool_kind_choice"
B_TOOL_NAME = "tool_name"
B_TOOL_URL = "tool_url"
B_TOOL_USERNAME = "tool_username"
B_TOOL_SECRET = "tool_secret"
B_TOOL_CA = "tool_ca_bundle"
B_TOOL_OPTIONS = "tool_options"
A_TOOL_NAME = "tool_name_input"
A_TOOL_URL = "tool_url_input"
A_TOOL_USERNAME = "tool_username_input"
A_TOOL_SECRET = "tool_secret_input"
A_TOOL_CA = "tool_ca_input"
A_TOOL_OPTIONS = "tool_options_choice"
TOOL_MENU_TEST = "test"
TOOL_MENU_EDIT = "edit"
TOOL_MENU_REMOVE = "remove"
TOOL_MENU_GRANTS = "grants"
# -- tool grants (the Grants modal of a tool) ------------------------------------------
VIEW_TOOL_GRANTS = "tool_grants"
B_GRANT_PROJECT = "grant_project"
A_GRANT_PROJECT = "grant_project_input"
B_GRANT_NAMESPACE = "grant_namespace"
A_GRANT_NAMESPACE = "grant_namespace_input"
A_GRANT_REMOVE = "grant_remove"
A_TOOLS_PAGE = "tools_page"

GRANT_FIELD_BLOCKS: dict[str, str] = {
    GrantField.PROJECT: B_GRANT_PROJECT,
    GrantField.NAMESPACE: B_GRANT_NAMESPACE,
}

TOOL_FIELD_BLOCKS: dict[str, str] = {
    ToolField.NAME: B_TOOL_NAME,
    ToolField.URL: B_TOOL_URL,
    ToolField.USERNAME: B_TOOL_USERNAME,
    ToolField.SECRET: B_TOOL_SECRET,
    ToolField.CA_BUNDLE: B_TOOL_CA,
    ToolField.KIND: B_TOOL_KIND,
}
