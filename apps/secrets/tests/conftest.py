import pytest

from devtools.testing.crm import Crm


@pytest.fixture
def crm(httpserver, settings) -> Crm:
    """The CRM and its token endpoint on the local test server (the SSRF guard lets loopback through)."""
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    return Crm(httpserver)
