"""hosted registries: when a saved credential expires (GitHub, GitLab say so)

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-30 13:10:00

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("image_repositories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credential_expires_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("image_repositories", schema=None) as batch_op:
        batch_op.drop_column("credential_expires_at")
