"""project language: the language of a project's channel messages (issue 23)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 13:20:00

Every existing project keeps speaking English (today's texts), the server default; a
project admin changes it with `/imagerepo project language ko`.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.add_column(
            sa.Column("language", sa.String(length=8), nullable=False, server_default="en")
        )


def downgrade() -> None:
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("language")
