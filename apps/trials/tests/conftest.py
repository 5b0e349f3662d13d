import pytest

from apps.definitions.cache import definition_cache


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The shared Redis outlives each test's database; cached definitions would leak across tests.
    definition_cache.clear()
    yield
    definition_cache.clear()
