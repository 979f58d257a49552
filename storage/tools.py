"""Registered tools: the registry instances (of any tool kind) a workspace admin registered."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage import accounts
from storage.accounts import EnteredAccount
from storage.crypto import SecretBox
from storage.errors import DuplicateError, NotFoundError
from storage.models import LEGACY_TOOL_TYPE, ImageRepository, RegisteredTool, ToolGrant
from storage.unique import insert_unique


async def list_for_team(
    session: AsyncSession, team_id: str, *, offset: int = 0, limit: int | None = None
) -> list[RegisteredTool]:
    query = (
        select(RegisteredTool)
        .where(RegisteredTool.team_id == team_id)
        .order_by(RegisteredTool.name, RegisteredTool.id)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(await session.scalars(query))


async def count_for_team(session: AsyncSession, team_id: str) -> int:
    count = await session.scalar(
        select(func.count(RegisteredTool.id)).where(RegisteredTool.team_id == team_id)
    )
    return int(count or 0)


async def get(session: AsyncSession, tool_id: int, *, team_id: str) -> RegisteredTool:
    row = await session.scalar(
        select(RegisteredTool).where(
            RegisteredTool.id == tool_id, RegisteredTool.team_id == team_id
        )
    )
    if row is None:
        raise NotFoundError("That registered tool no longer exists.")
    return row


async def add(
    session: AsyncSession,
    box: SecretBox,
    *,
    team_id: str,
    name: str,
    url: str,
    account: EnteredAccount,
    created_by: str,
    tool_type: str = LEGACY_TOOL_TYPE,
) -> RegisteredTool:
    row = RegisteredTool(
        team_id=team_id,
        tool_type=tool_type,
        name=name,
        url=url,
        created_by=created_by,
    )
    accounts.store(box, row, account)
    await insert_unique(
        session,
        row,
        clash=select(RegisteredTool.id).where(
            RegisteredTool.team_id == team_id, RegisteredTool.name == name
        ),
        message=f"A tool named {name!r} is registered already.",
    )
    return row


def secret_of(box: SecretBox, row: RegisteredTool) -> str | None:
    if row.secret_ciphertext is None:
        return None
    return box.decrypt(row.secret_ciphertext, what=f"password of registered tool {row.name!r}")


async def users_of(session: AsyncSession, tool_id: int) -> int:
    """How many saved repositories use the tool (it cannot be removed while any do)."""
    return (await users_by_tool(session, [tool_id]))[tool_id]


async def users_by_tool(session: AsyncSession, tool_ids: Sequence[int]) -> dict[int, int]:
    """`users_of` for several tools in one query (a list of tools shows each one's)."""
    counted = await session.execute(
        select(ImageRepository.tool_id, func.count())
        .where(ImageRepository.tool_id.in_(tool_ids))
        .group_by(ImageRepository.tool_id)
    )
    found = {tool_id: int(count) for tool_id, count in counted.all() if tool_id is not None}
    return {tool_id: found.get(tool_id, 0) for tool_id in tool_ids}


async def pin_unpinned_users(session: AsyncSession, tool_id: int, origin: str) -> None:
    """Pin the entries of a tool that have no pin yet to `origin` (the tool's URL before an
    edit), so that they refuse the new URL until their password is entered again."""
    await session.execute(
        update(ImageRepository)
        .where(
            ImageRepository.tool_id == tool_id,
            ImageRepository.pinned_registry_origin.is_(None),
        )
        .values(pinned_registry_origin=origin)
    )


async def remove(session: AsyncSession, row: RegisteredTool) -> None:
    in_use = await users_of(session, row.id)
    if in_use:
        raise DuplicateError(
            f"{row.name} is used by {in_use} saved repositor{'y' if in_use == 1 else 'ies'}; "
            "delete those first."
        )
    # Its grants go with it (the foreign key cascades too): a tool registered later that
    # gets the same id must never inherit where this one's account could be spent.
    await session.execute(delete(ToolGrant).where(ToolGrant.tool_id == row.id))
    await session.delete(row)
