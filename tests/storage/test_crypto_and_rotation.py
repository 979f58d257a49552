"""Encryption, key rotation and the generated development key."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import projects, repositories
from storage.accounts import EnteredAccount
from storage.crypto import SecretBox, SecretKeyError, load_or_create_key_file
from storage.db import transaction
from storage.enums import RepositoryAccess
from storage.repositories import NewRepository
from storage.rotation import rotate_all


def test_wrong_key_names_what_cannot_be_decrypted() -> None:
    ciphertext = SecretBox([Fernet.generate_key().decode()]).encrypt("hunter2")
    other = SecretBox([Fernet.generate_key().decode()])
    with pytest.raises(
        SecretKeyError, match="cannot decrypt the password of repository #7"
    ) as info:
        other.decrypt(ciphertext, what="password of repository #7")
    assert "hunter2" not in str(info.value)


def test_malformed_key_is_reported_by_position() -> None:
    with pytest.raises(SecretKeyError, match="key #2 is not a Fernet key"):
        SecretBox([Fernet.generate_key().decode(), "not-a-key"])


def test_generated_key_file_is_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "imagerepo.db.key"
    first = load_or_create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key_file(path) == first
    SecretBox([first])  # a usable Fernet key


async def test_rotation_moves_every_secret_to_the_new_key(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    old_box = SecretBox([old_key])
    async with transaction(sessions) as session:
        project = await projects.create(
            session, team_id="T1", channel_id="C1", name="p", created_by="U1"
        )
        for n in range(3):
            await repositories.add(
                session,
                old_box,
                NewRepository(
                    project_id=project.id,
                    access=RepositoryAccess.APP,
                    registry_type="registry",
                    registry_url="https://r.example.com",
                    repository=f"team/app{n}",
                    added_by="U1",
                    account=EnteredAccount("u", f"secret-{n}"),
                ),
            )

    rotating_box = SecretBox([new_key, old_key])
    # Before rotation the old key still decrypts everything.
    async with sessions() as session:
        rows, _ = await repositories.list_page(session, project.id, offset=0, limit=10)
        assert [repositories.secret_of(rotating_box, r) for r in rows] == [
            "secret-0",
            "secret-1",
            "secret-2",
        ]

    report = await rotate_all(sessions, rotating_box)
    assert (report.rotated, report.already_current) == (3, 0)
    again = await rotate_all(sessions, rotating_box)
    assert (again.rotated, again.already_current) == (0, 3)

    new_only = SecretBox([new_key])
    async with sessions() as session:
        rows, _ = await repositories.list_page(session, project.id, offset=0, limit=10)
        assert [repositories.secret_of(new_only, r) for r in rows] == [
            "secret-0",
            "secret-1",
            "secret-2",
        ]


async def test_rotation_with_a_missing_key_changes_nothing(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    lost_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    async with transaction(sessions) as session:
        project = await projects.create(
            session, team_id="T1", channel_id="C1", name="p", created_by="U1"
        )
        for n, key in enumerate((new_key, lost_key)):
            await repositories.add(
                session,
                SecretBox([key]),
                NewRepository(
                    project_id=project.id,
                    access=RepositoryAccess.APP,
                    registry_type="registry",
                    registry_url="https://r.example.com",
                    repository=f"team/app{n}",
                    added_by="U1",
                    account=EnteredAccount(secret=f"secret-{n}"),
                ),
            )
    async with sessions() as session:
        before = list(
            (
                await session.execute(
                    text("SELECT secret_ciphertext FROM image_repositories ORDER BY id")
                )
            ).scalars()
        )

    with pytest.raises(SecretKeyError, match="password of repository #2"):
        await rotate_all(sessions, SecretBox([Fernet.generate_key().decode(), new_key]))

    async with sessions() as session:
        after = list(
            (
                await session.execute(
                    text("SELECT secret_ciphertext FROM image_repositories ORDER BY id")
                )
            ).scalars()
        )
    assert after == before
