"""Fixtures: a fresh tenant per test, a REST client holding an API key for it, fast password hashing."""

from __future__ import annotations

import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from apps.clients.services import api_key_create


@pytest.fixture(scope="session", autouse=True)
def fast_password_hashing() -> None:
    """Tests create hundreds of users; Django's PBKDF2 (~1 M iterations, a CPU-second under load per user) is
    not what they test. Passwords set and checked in this process use MD5; processes a test starts keep PBKDF2."""
    from django.contrib.auth import hashers

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    hashers.get_hashers.cache_clear()
    hashers.get_hashers_by_algorithm.cache_clear()


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def api(tenant: str, db) -> APIClient:
    """A REST client authenticated for `tenant` with both scopes."""
    _, raw_key = api_key_create(tenant=tenant, client_id="tests", scopes=["runtime", "definitions"])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}", HTTP_X_TENANT_ID=tenant, HTTP_X_CLIENT_ID="tests")
    return client


def key_client(tenant: str, scopes: list[str]) -> APIClient:
    """A REST client holding only an API key of `tenant` (no tenant or client header: the key names both)."""
    _, raw = api_key_create(tenant=tenant, client_id="tests", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client
