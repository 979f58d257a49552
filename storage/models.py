"""The tables, in SQLAlchemy 2's typed ORM style.

Secrets are stored only as Fernet ciphertext (`*_ciphertext` columns); the
plaintext exists in memory while a connection test or a registry call runs.
Enumerations are stored as short strings (portable between SQLite and PostgreSQL,
and readable in a shell) and checked by the application, not the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.enums import Health, IncidentKind, OutboxKind


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime}


class Project(Base):
    """A project is bound to one Slack channel; its subcommands act in that channel."""

    __tablename__ = "projects"
    __table_args__ = (
        UniqueConstraint("team_id", "channel_id"),
        UniqueConstraint("team_id", "name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set while the bot cannot post in the channel (not invited, archived): the Slack
    # error and since when. Channel messages are held meanwhile (OutboxMessage.held_since).
    alerts_blocked_error: Mapped[str | None] = mapped_column(String(32))
    alerts_blocked_since: Mapped[datetime | None]
    # The language of its channel messages (`en` or `ko`): its creator's Slack language at
    # `project create`, changed by an admin with `/imagerepo project language`.
    language: Mapped[str] = mapped_column(String(8), default="en", server_default="en")

    admins: Mapped[list[ProjectAdmin]] = relationship(
        back_populates="project", cascade="all, delete-orphan", lazy="selectin"
    )
    # Where a registered tool's own account may be spent for this project (DESIGN.md
    # "Registered tools: whose account, and where"); loaded with the project, so that
    # every target built from an entry decides with the grants as they are now.
    tool_grants: Mapped[list[ToolGrant]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", passive_deletes=True
    )


class ProjectAdmin(Base):
    __tablename__ = "project_admins"

    project_id: Mapped[int] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    added_by: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)

    project: Mapped[Project] = relationship(back_populates="admins")


class AccountColumns:
    """The account a registered tool or a saved repository signs in with, and how TLS is checked.

    The secret is Fernet ciphertext (`storage.crypto.SecretBox`), never the plaintext.
    """

    username: Mapped[str | None] = mapped_column(String(255))
    secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    tls_verify: Mapped[bool] = mapped_column(Boolean, default=True)
    ca_bundle_pem: Mapped[str | None] = mapped_column(Text)


# The kind of a tool saved without one: every tool was a Harbor instance before tools had
# kinds (`registry.kinds.LEGACY_TOOL_KIND`, which storage does not import; a test
# compares them).
LEGACY_TOOL_TYPE = "harbor"


class RegisteredTool(AccountColumns, Base):
    """A registry or API host a workspace admin registered (`tool_type`: its kind, a
    `registry.kinds.TOOL_TYPES` value), with its own account or API token."""

    __tablename__ = "registered_tools"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    team_id: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(80))
    tool_type: Mapped[str] = mapped_column(String(16), default=LEGACY_TOOL_TYPE)
    url: Mapped[str] = mapped_column(String(2048))
    created_by: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ToolGrant(Base):
    """A workspace admin's grant: the tool's own account may be spent for the project's
    repositories inside `namespace` (what the tool's kind calls a project, group or
    organization; `team-a/` or `team-a` cover `team-a/...`, `team-*` any namespace
    starting `team-`). Nothing else ever spends a tool's account."""

    __tablename__ = "tool_grants"
    __table_args__ = (UniqueConstraint("tool_id", "project_id", "namespace"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tool_id: Mapped[int] = mapped_column(ForeignKey("registered_tools.id", ondelete="CASCADE"))
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    namespace: Mapped[str] = mapped_column(String(255))
    granted_by: Mapped[str] = mapped_column(String(32))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)


class ImageRepository(AccountColumns, Base):
    """One saved repository of a project, its credentials and its current health.

    Health lives on the row (not only in the history) so that the list and the
    re-check scheduler read one table; the scheduler's lease columns let several
    instances share the work with SELECT ... FOR UPDATE SKIP LOCKED.
    """

    __tablename__ = "image_repositories"
    __table_args__ = (
        UniqueConstraint("project_id", "registry_url", "repository", "access"),
        Index("ix_image_repositories_next_check_at", "next_check_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    access: Mapped[str] = mapped_column(String(16))
    registry_type: Mapped[str] = mapped_column(String(16))
    registry_url: Mapped[str] = mapped_column(String(2048))
    repository: Mapped[str] = mapped_column(String(255))
    tool_id: Mapped[int | None] = mapped_column(
        ForeignKey("registered_tools.id", ondelete="RESTRICT")
    )
    added_by: Mapped[str] = mapped_column(String(32))
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a person last changed the entry (credentials); background writes leave it.
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Where the password may go (`scheme://host[:port]`), pinned when a test got the
    # password accepted (save, a new account, or the first such test of an older entry); a test
    # that finds another registry or token-service origin is refused until the
    # password is entered again.  NULL: not pinned yet.
    pinned_registry_origin: Mapped[str | None] = mapped_column(String(300))
    pinned_realm_origin: Mapped[str | None] = mapped_column(String(300))

    health: Mapped[str] = mapped_column(String(16), default=Health.UNKNOWN.value)
    health_changed_at: Mapped[datetime | None]
    last_checked_at: Mapped[datetime | None]
    last_error_kind: Mapped[str | None] = mapped_column(String(32))
    last_message: Mapped[str | None] = mapped_column(Text)
    last_latency_ms: Mapped[float | None] = mapped_column(Float)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    failing_since: Mapped[datetime | None]
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    next_check_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    # The open incident (AlertIncident.id) whose channel message is edited while failing.
    incident_id: Mapped[int | None] = mapped_column(Integer)
    # Snooze from the alert: no new alert until `snoozed_until` (or the recovery).
    snoozed_by: Mapped[str | None] = mapped_column(String(32))
    snoozed_until: Mapped[datetime | None]
    snooze_until_recovered: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the credential stops working, where the registry says (its driver asks it).
    credential_expires_at: Mapped[datetime | None]
    # The expiry warnings sent for this `credential_expires_at` ("7", "7,1"); reset on change.
    expiry_warned: Mapped[str | None] = mapped_column(String(16))

    project: Mapped[Project] = relationship(lazy="joined")
    tool: Mapped[RegisteredTool | None] = relationship(lazy="joined")


class ConnectionCheck(Base):
    """The history of connection tests, newest kept, older pruned by the scheduler."""

    __tablename__ = "connection_checks"
    __table_args__ = (Index("ix_connection_checks_repo_time", "repository_id", "checked_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE")
    )
    checked_at: Mapped[datetime] = mapped_column(default=utcnow)
    trigger: Mapped[str] = mapped_column(String(16))
    ok: Mapped[bool] = mapped_column(Boolean)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text, default="")
    latency_ms: Mapped[float] = mapped_column(Float, default=0.0)


class AlertIncident(Base):
    """One incident of one repository: one top-level channel message, edited while it lasts.

    `message_ts` is Slack's id of that message, known once the outbox posted it;
    edits (chat.update) and thread replies queued for the incident wait for it.
    """

    __tablename__ = "alert_incidents"

    id: Mapped[int] = mapped_column(primary_key=True)
    repository_id: Mapped[int] = mapped_column(
        ForeignKey("image_repositories.id", ondelete="CASCADE")
    )
    kind: Mapped[str] = mapped_column(String(16), default=IncidentKind.FAILING.value)
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    message_ts: Mapped[str | None] = mapped_column(String(32))


class OutboxMessage(Base):
    """A channel message written in the same transaction as the state change it reports.

    Sending happens afterwards and may be retried; `dedup_key` makes a second
    write of the same notification (a retried request, a second instance) a no-op.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (
        UniqueConstraint("dedup_key"),
        Index("ix_outbox_messages_pending", "sent_at", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(200))
    team_id: Mapped[str] = mapped_column(String(32))
    channel_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    blocks_json: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(200))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_expires_at: Mapped[datetime | None]
    kind: Mapped[str] = mapped_column(String(16), default=OutboxKind.POST.value)
    incident_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_incidents.id", ondelete="CASCADE")
    )
    # Not sent because the bot cannot post in the channel; released when it joins.
    held_since: Mapped[datetime | None]
    # Released after being held: shown as delivered late.
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    # Slack refused it for good (e.g. the message to edit was deleted): never retried.
    gave_up_at: Mapped[datetime | None]


class AuditRecord(Base):
    """One entry of the append-only audit trail (storage/audit.py writes and verifies it).

    `seq` is the record's place in the hash chain; `record_hash` covers every other
    column (but `id`) and `prev_hash`, so a changed, removed or reordered row breaks
    the chain. Never a secret: credentials appear only as a keyed fingerprint.
    """

    __tablename__ = "audit_records"
    __table_args__ = (
        UniqueConstraint("seq"),
        Index("ix_audit_records_occurred_at", "occurred_at"),
        Index("ix_audit_records_team_project", "team_id", "project"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    occurred_at: Mapped[datetime]
    team_id: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str] = mapped_column(String(32))
    user_name: Mapped[str] = mapped_column(String(255), default="")
    action: Mapped[str] = mapped_column(String(40))
    project: Mapped[str | None] = mapped_column(String(80))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_url: Mapped[str | None] = mapped_column(String(2048))
    target_repository: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    error_kind: Mapped[str | None] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    fingerprint: Mapped[str | None] = mapped_column(String(12))
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The chain's single head row: locking it serializes writers across instances.

    `anchor_*` name the last pruned record, where verification starts after pruning.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    head_hash: Mapped[str] = mapped_column(String(64))
    anchor_seq: Mapped[int] = mapped_column(Integer, default=0)
    anchor_hash: Mapped[str] = mapped_column(String(64))
