"""Registry tests use the registry fixtures plugin (see tests/support/registry_fixtures.py)."""

from tests.support.registry_fixtures import *  # noqa: F403
