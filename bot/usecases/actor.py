"""Who is acting, as the handler learned it from Slack."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """`is_workspace_admin` comes from users.info (is_admin or is_owner), checked by the handler:
    workspace admins and owners are admins of every project."""

    team_id: str
    user_id: str
    is_workspace_admin: bool = False
    # The name Slack showed at the time (for the audit trail); "" when users.info failed.
    display_name: str = ""
