"""tool grants: where a registered tool's own account may be spent (issue 18, item 1)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 12:20:00

No existing entry is widened: there are no grants at migration time, so an entry that
relied on its tool's account (no account of its own) stops spending it until a workspace
admin grants its namespace to its project. That state is derived at use time from the
grants (bot/usecases/permissions.py), so a grant fixes it at once; no flag is stored.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "tool_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tool_id", sa.Integer(), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("namespace", sa.String(length=255), nullable=False),
        sa.Column("granted_by", sa.String(length=32), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tool_id"],
            ["registered_tools.id"],
            name=op.f("fk_tool_grants_tool_id_registered_tools"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_tool_grants_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_grants")),
        sa.UniqueConstraint(
            "tool_id",
            "project_id",
            "namespace",
            name=op.f("uq_tool_grants_tool_id_project_id_namespace"),
        ),
    )


def downgrade() -> None:
    op.drop_table("tool_grants")
