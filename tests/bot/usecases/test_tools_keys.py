"""Editing a registered tool whose secret no configured key opens: a sentence naming it."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.runtime import Runtime
from bot.settings import Settings
from bot.usecases import tools as tool_usecases
from bot.usecases.actor import Actor
from bot.usecases.errors import SecretUnavailable
from storage import tools
from storage.accounts import EnteredAccount
from storage.crypto import SecretBox
from storage.db import transaction
from storage.models import RegisteredTool


async def test_a_blank_secret_with_a_lost_key_names_the_tool(
    sessions: async_sessionmaker[AsyncSession], migrated_url: str
) -> None:
    async with transaction(sessions) as session:
        row = await tools.add(
            session,
            SecretBox([Fernet.generate_key().decode()]),
            team_id="T1",
            name="harbor-prod",
            url="https://harbor.example.com",
            account=EnteredAccount("admin", "Harbor12345-lost-key"),
            created_by="U1",
        )
    async with sessions() as session:
        before = await session.scalar(select(RegisteredTool.secret_ciphertext))

    rt = Runtime.create(
        Settings(database_url=migrated_url, secret_keys=(Fernet.generate_key().decode(),))
    )
    try:
        with pytest.raises(SecretUnavailable, match="registered tool 'harbor-prod'") as info:
            await tool_usecases.update_tool(
                rt,
                Actor("T1", "UADMIN", is_workspace_admin=True),
                row.id,
                tool_usecases.ToolForm(
                    name="harbor-prod", url="https://harbor.example.com", username="admin"
                ),
            )
        assert "Harbor12345-lost-key" not in info.value.message
    finally:
        await rt.aclose()
    async with sessions() as session:
        assert await session.scalar(select(RegisteredTool.secret_ciphertext)) == before
