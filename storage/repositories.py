"""Saved image repositories: add, read, change credentials, delete, record checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import accounts
from storage.accounts import EnteredAccount
from storage.crypto import SecretBox
from storage.enums import RepositoryAccess
from storage.errors import NotFoundError
from storage.models import ConnectionCheck, ImageRepository, utcnow
from storage.unique import insert_unique


@dataclass(frozen=True)
class NewRepository:
    """What a user entered (the secret is plaintext in `account`)."""

    project_id: int
    access: RepositoryAccess
    registry_type: str
    registry_url: str
    repository: str
    added_by: str
    account: EnteredAccount = field(default_factory=EnteredAccount)
    tool_id: int | None = None

    def __repr__(self) -> str:  # never show the secret in a traceback or a log line
        return (
            f"NewRepository(project_id={self.project_id}, access={self.access.value}, "
            f"registry_url={self.registry_url!r}, repository={self.repository!r})"
        )


def _duplicate_message(registry_url: str, repository: str, access: str) -> str:
    kind = "pull-only repository" if access == RepositoryAccess.PULL_ONLY else "app repository"
    return f"{repository} on {registry_url} is already in this project's list as an {kind}."


async def add(session: AsyncSession, box: SecretBox, new: NewRepository) -> ImageRepository:
    """Store a repository with its secret encrypted; a duplicate is a DuplicateError."""
    row = ImageRepository(
        project_id=new.project_id,
        access=new.access.value,
        registry_type=new.registry_type,
        registry_url=new.registry_url,
        repository=new.repository,
        tool_id=new.tool_id,
        added_by=new.added_by,
    )
    accounts.store(box, row, new.account)
    await insert_unique(
        session,
        row,
        clash=select(ImageRepository.id).where(
            ImageRepository.project_id == new.project_id,
            ImageRepository.registry_url == new.registry_url,
            ImageRepository.repository == new.repository,
            ImageRepository.access == new.access.value,
        ),
        message=_duplicate_message(new.registry_url, new.repository, new.access.value),
    )
    return row


async def get(
    session: AsyncSession, repository_id: int, *, project_id: int | None = None
) -> ImageRepository:
    query = select(ImageRepository).where(ImageRepository.id == repository_id)
    if project_id is not None:
        query = query.where(ImageRepository.project_id == project_id)
    row = await session.scalar(query)
    if row is None:
        raise NotFoundError("That repository is no longer in this project's list.")
    return row


async def added_any(session: AsyncSession, project_id: int, user_id: str) -> bool:
    """Whether this user added at least one repository of the project (Home shows it to them)."""
    found = await session.scalar(
        select(ImageRepository.id)
        .where(ImageRepository.project_id == project_id, ImageRepository.added_by == user_id)
        .limit(1)
    )
    return found is not None


async def count(session: AsyncSession, project_id: int) -> int:
    total = await session.scalar(
        select(func.count())
        .select_from(ImageRepository)
        .where(ImageRepository.project_id == project_id)
    )
    return int(total or 0)


async def of_project(
    session: AsyncSession, project_id: int, *, offset: int | None = None, limit: int | None = None
) -> list[ImageRepository]:
    """The repositories of a project, oldest first (a stable order for pages): all of
    them, or the page `offset` / `limit` give."""
    rows = await session.scalars(
        select(ImageRepository)
        .where(ImageRepository.project_id == project_id)
        .order_by(ImageRepository.id)
        .offset(offset)
        .limit(limit)
    )
    return list(rows)


async def list_page(
    session: AsyncSession, project_id: int, *, offset: int, limit: int
) -> tuple[list[ImageRepository], int]:
    """One page and the total, for Next / Previous."""
    return (
        await of_project(session, project_id, offset=offset, limit=limit),
        await count(session, project_id),
    )


def secret_of(box: SecretBox, row: ImageRepository) -> str | None:
    if row.secret_ciphertext is None:
        return None
    return box.decrypt(row.secret_ciphertext, what=f"password of repository #{row.id}")


def set_credentials(
    box: SecretBox, row: ImageRepository, *, username: str | None, secret: str | None
) -> None:
    accounts.store_credentials(box, row, username=username, secret=secret)
    row.updated_at = utcnow()


MAX_ORIGIN = 300


def pin_origins(
    row: ImageRepository, *, registry_origin: str | None, realm_origin: str | None
) -> None:
    """Pin where the entry's password may go (see `ImageRepository.pinned_registry_origin`).

    An origin too long for its column leaves the entry unpinned rather than failing the write.
    """
    if not registry_origin or len(registry_origin) > MAX_ORIGIN:
        return
    if realm_origin is not None and len(realm_origin) > MAX_ORIGIN:
        return
    row.pinned_registry_origin = registry_origin
    row.pinned_realm_origin = realm_origin


async def remove(session: AsyncSession, row: ImageRepository) -> None:
    await session.execute(delete(ImageRepository).where(ImageRepository.id == row.id))


async def record_check(
    session: AsyncSession, row: ImageRepository, check: ConnectionCheck
) -> ConnectionCheck:
    """Append `check` to the row's history and copy its result onto the row (health is set
    by the caller). The check's time is now unless it has one."""
    check.repository_id = row.id
    check.checked_at = check.checked_at or utcnow()
    session.add(check)
    row.last_checked_at = check.checked_at
    row.last_error_kind = check.error_kind
    row.last_message = check.message
    row.last_latency_ms = check.latency_ms
    return check


async def history(
    session: AsyncSession, repository_id: int, limit: int = 20
) -> list[ConnectionCheck]:
    rows = await session.scalars(
        select(ConnectionCheck)
        .where(ConnectionCheck.repository_id == repository_id)
        .order_by(ConnectionCheck.checked_at.desc(), ConnectionCheck.id.desc())
        .limit(limit)
    )
    return list(rows)


async def by_ids(session: AsyncSession, ids: Sequence[int]) -> list[ImageRepository]:
    """The repositories with these ids (any order; a deleted one is left out)."""
    found = await session.scalars(select(ImageRepository).where(ImageRepository.id.in_(ids)))
    return list(found.unique())
