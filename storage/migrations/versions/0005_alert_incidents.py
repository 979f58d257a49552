"""alert incidents: one channel message per incident, snoozes, expiry warnings, held messages

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("repository_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=False),
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("message_ts", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(
            ["repository_id"],
            ["image_repositories.id"],
            name=op.f("fk_alert_incidents_repository_id_image_repositories"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_incidents")),
    )
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.add_column(sa.Column("alerts_blocked_error", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("alerts_blocked_since", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("image_repositories", schema=None) as batch_op:
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("snoozed_by", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("snoozed_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column(
                "snooze_until_recovered", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        batch_op.add_column(sa.Column("expiry_warned", sa.String(length=16), nullable=True))
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), nullable=False, server_default="post")
        )
        batch_op.add_column(sa.Column("incident_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("held_since", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("late", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("gave_up_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_outbox_messages_incident_id_alert_incidents"),
            "alert_incidents",
            ["incident_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_constraint(
            op.f("fk_outbox_messages_incident_id_alert_incidents"), type_="foreignkey"
        )
        for column in ("gave_up_at", "late", "held_since", "incident_id", "kind"):
            batch_op.drop_column(column)
    with op.batch_alter_table("image_repositories", schema=None) as batch_op:
        for column in (
            "expiry_warned",
            "snooze_until_recovered",
            "snoozed_until",
            "snoozed_by",
            "incident_id",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("projects", schema=None) as batch_op:
        batch_op.drop_column("alerts_blocked_since")
        batch_op.drop_column("alerts_blocked_error")
    op.drop_table("alert_incidents")
