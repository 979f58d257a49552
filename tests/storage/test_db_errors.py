"""`storage.db.DB_ERRORS` is what the never-raise paths catch now that they no longer
catch every Exception (issue 20 item 4): a database that does not answer must be one of
them, or /healthz and the scheduler would crash instead of saying "down"."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.db import DB_ERRORS, create_engine, ping
from tests.support.registry_httpserver import free_port


@pytest.mark.parametrize("scheme", ["postgresql", "sqlite"])
async def test_a_database_that_does_not_answer_is_down_not_a_crash(
    scheme: str, tmp_path: Path
) -> None:
    url = (
        f"postgresql://nobody@127.0.0.1:{free_port()}/none"
        if scheme == "postgresql"
        else f"sqlite:///{tmp_path}/missing-dir/db.sqlite"
    )
    engine = create_engine(url)
    try:
        assert await ping(engine) is False
        with pytest.raises(DB_ERRORS):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
