import json
from pathlib import Path

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.clients.services import api_key_create
from apps.definitions.cache import definition_cache

SAMPLES = Path(settings.BASE_DIR).parent / "shared/spec/samples"


@pytest.fixture(autouse=True)
def _fresh_cache():
    # The shared Redis outlives each test's rolled-back database; cached versions would leak across tests.
    definition_cache.clear()
    yield
    definition_cache.clear()


@pytest.fixture
def sample_nodes() -> list[dict]:
    return json.loads((SAMPLES / "order_status.nodes.json").read_text())


@pytest.fixture
def sample_workflow() -> dict:
    return json.loads((SAMPLES / "order_status.workflow.json").read_text())


def client_for(tenant: str, scopes: list[str]) -> APIClient:
    _, raw = api_key_create(tenant=tenant, client_id="tests", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def api(db) -> APIClient:
    return client_for("acme", ["definitions"])
