"""API keys record their last use without a database write on every request (issue 11)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.clients.models import ApiKey

pytestmark = pytest.mark.django_db


def _apikey_writes(api) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert api.get("/enumStore/").status_code == 200
    return sum(q["sql"].startswith("UPDATE") and "clients_apikey" in q["sql"] for q in queries.captured_queries)


def test_a_key_is_touched_once_per_window_not_per_request(api, tenant):
    assert _apikey_writes(api) == 1  # never used before
    first_use = ApiKey.objects.get(client__tenant=tenant).last_used_at
    assert first_use is not None
    assert _apikey_writes(api) == 0
    assert _apikey_writes(api) == 0
    ApiKey.objects.filter(client__tenant=tenant).update(last_used_at=timezone.now() - timedelta(minutes=5))
    assert _apikey_writes(api) == 1
    assert ApiKey.objects.get(client__tenant=tenant).last_used_at > first_use
