"""Refused attempts are recorded with what the use case states it is about (issue 20
item 2), and a registered tool is named by its kind in the trail (`gitlab-tool`, not
`harbor-tool` for every kind: item 1), on both databases."""

from __future__ import annotations

import pytest

from bot import audit
from bot.runtime import Runtime
from bot.usecases import tools
from bot.usecases.actor import Actor
from bot.usecases.errors import PermissionDenied
from storage import audit as trail
from storage import tools as tools_store
from storage.accounts import EnteredAccount
from storage.db import transaction
from storage.models import AuditRecord

TEAM = "TATT"
MEMBER = Actor(TEAM, "UMEMBER", display_name="member")


async def _newest(rt: Runtime) -> AuditRecord:
    async with rt.sessions() as session:
        found = await trail.records(session, team_id=TEAM, limit=1)
    assert found, "no audit record was written"
    return found[0]


async def test_a_refused_gitlab_tool_registration_is_recorded_as_a_gitlab_tool(
    rt: Runtime,
) -> None:
    form = tools.ToolForm(
        name="gl-main",
        url="https://gitlab.example.com",
        username=None,
        secret="glpat-typed-token",
        kind="gitlab",
    )
    with pytest.raises(PermissionDenied):
        await tools.register_tool(rt, MEMBER, form)
    record = await _newest(rt)
    assert (record.action, record.outcome, record.error_kind) == (
        "tool-register",
        "refused",
        "permission",
    )
    assert record.target_type == "gitlab-tool"
    assert record.target_url == "https://gitlab.example.com"
    assert record.detail is not None and record.detail.startswith("tool gl-main; ")
    assert record.fingerprint == audit.fingerprint(rt, None, "glpat-typed-token")


async def test_a_refused_removal_of_a_saved_quay_tool_names_the_tool_and_its_kind(
    rt: Runtime,
) -> None:
    async with transaction(rt.sessions) as session:
        row = await tools_store.add(
            session,
            rt.box,
            team_id=TEAM,
            name="quay-org",
            url="https://quay.example.com",
            account=EnteredAccount("$oauthtoken", "quay-admin-token"),
            created_by="UADMIN",
            tool_type="quay",
        )
        await session.flush()
        tool_id = row.id
    with pytest.raises(PermissionDenied):
        await tools.tool_for_edit(rt, MEMBER, tool_id, purpose=audit.Action.TOOL_REMOVE)
    record = await _newest(rt)
    assert (record.action, record.outcome) == ("tool-remove", "refused")
    assert record.target_type == "quay-tool"
    assert record.target_url == "https://quay.example.com"
    assert record.detail is not None and record.detail.startswith("tool quay-org; ")
    assert record.fingerprint == audit.fingerprint(rt, "$oauthtoken", "quay-admin-token")


def test_the_audit_path_reads_no_parameters_by_name() -> None:
    """A use case states what it records: nothing binds its signature."""
    import inspect

    source = inspect.getsource(audit)
    assert "inspect.signature" not in source and "signature.bind" not in source
