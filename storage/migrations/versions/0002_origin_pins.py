"""origin pins: where a saved entry's password may go

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 12:45:00.000000

Both columns are nullable: entries saved before this revision have no pin and
get one on their next passing Connection Test (trust on first use).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("image_repositories", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("pinned_registry_origin", sa.String(length=300), nullable=True)
        )
        batch_op.add_column(sa.Column("pinned_realm_origin", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image_repositories", schema=None) as batch_op:
        batch_op.drop_column("pinned_realm_origin")
        batch_op.drop_column("pinned_registry_origin")
