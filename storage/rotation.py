"""Re-encrypt every stored secret with the first key (`imagerepo-bot rotate-keys`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import audit
from storage.audit import AuditEvent
from storage.crypto import SecretBox
from storage.db import transaction
from storage.models import ImageRepository, RegisteredTool


@dataclass(frozen=True)
class RotationReport:
    rotated: int
    already_current: int


async def rotate_all(
    sessions: async_sessionmaker[AsyncSession],
    box: SecretBox,
    audit_event: AuditEvent | None = None,
) -> RotationReport:
    """All in one transaction: interrupted, nothing changes; any key still decrypts either way.

    `audit_event`, when given, is appended to the audit trail in that same
    transaction, with the counts as its detail.

    Every secret is decrypted before anything is written, so a secret that no key
    opens stops the rotation with its name and leaves the database as it was.
    """
    rotated = current = 0
    async with transaction(sessions) as session:
        repositories = await session.scalars(
            select(ImageRepository).where(ImageRepository.secret_ciphertext.is_not(None))
        )
        tools = await session.scalars(
            select(RegisteredTool).where(RegisteredTool.secret_ciphertext.is_not(None))
        )
        rows: list[tuple[ImageRepository | RegisteredTool, str]] = [
            (repo, f"password of repository #{repo.id}") for repo in repositories
        ] + [(tool, f"password of registered tool {tool.name!r}") for tool in tools]
        updates: list[tuple[ImageRepository | RegisteredTool, str]] = []
        for row, what in rows:
            assert row.secret_ciphertext is not None
            if box.is_current(row.secret_ciphertext):
                current += 1
                continue
            updates.append((row, box.rotate(row.secret_ciphertext, what=what)))
        for row, ciphertext in updates:
            row.secret_ciphertext = ciphertext
            rotated += 1
        if audit_event is not None:
            detail = f"re-encrypted {rotated} secret(s); {current} already used the first key"
            await audit.append(session, replace(audit_event, detail=detail))
    return RotationReport(rotated=rotated, already_current=current)
