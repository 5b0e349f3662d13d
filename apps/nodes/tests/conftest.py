import pytest

from apps.nodes.sandbox import SandboxPool, shutdown_pool


@pytest.fixture(scope="module")
def pool():
    """A private pool with a short time limit, so runaway scripts fail fast."""
    sandbox = SandboxPool(size=2, memory_mb=256)
    yield sandbox
    sandbox.close()


@pytest.fixture(scope="session", autouse=True)
def _close_shared_pool():
    yield
    shutdown_pool()
