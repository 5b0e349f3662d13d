"""/v3/client/webhook: a client reads and sets its default callback URL and rotates its signing secret with its
API key only. Bad input is a 400 with the field path; sessions and other keys cannot touch it."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from apps.clients.models import ApiClient
from apps.clients.services import api_key_create
from devtools.testing.rest import client_for

SETTINGS_URL = "/v3/client/webhook"
ROTATE_URL = "/v3/client/webhook/rotate-secret"
LOCAL_HOOK = "http://127.0.0.1:9/hook"

pytestmark = pytest.mark.django_db


def _client(tenant: str, client_id: str = "tests") -> ApiClient:
    return ApiClient.objects.get(tenant=tenant, client_id=client_id)


def test_get_shows_the_settings_but_never_the_secret(api, tenant):
    response = api.get(SETTINGS_URL)
    assert response.status_code == 200
    assert response.json() == {"callbackUrl": "", "webhookSecretSet": True}
    assert _client(tenant).webhook_secret not in response.content.decode()


def test_rotation_returns_a_new_secret_each_time(api, tenant):
    before = _client(tenant).webhook_secret
    first = api.post(ROTATE_URL).json()["webhookSecret"]
    second = api.post(ROTATE_URL).json()["webhookSecret"]
    assert len({before, first, second}) == 3
    assert _client(tenant).webhook_secret == second


def test_set_and_clear_the_default_callback_url(api, tenant, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    assert api.patch(SETTINGS_URL, {"callbackUrl": LOCAL_HOOK}, format="json").json()["callbackUrl"] == LOCAL_HOOK
    assert _client(tenant).callback_url == LOCAL_HOOK
    assert api.patch(SETTINGS_URL, {"callbackUrl": ""}, format="json").status_code == 200
    assert _client(tenant).callback_url == ""


def test_a_url_the_ssrf_guard_refuses_is_a_400(api, tenant, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    for url in (LOCAL_HOOK, "http://10.1.2.3/hook", "http://[::1]/hook", "http://169.254.169.254/latest"):
        response = api.patch(SETTINGS_URL, {"callbackUrl": url}, format="json")
        assert response.status_code == 400, (url, response.json())
        assert [d["path"] for d in response.json()["details"]] == ["$.callbackUrl"]
    assert _client(tenant).callback_url == ""


@pytest.mark.parametrize("raw", [
    '{"callbackUrl": 5}', '{"callbackUrl": null}', '{"callbackUrl": ["http://example.com"]}',
    '{"callbackUrl": {"a": {"b": {}}}}', '{"callbackUrl": "ftp://example.com/x"}', '{"callbackUrl": "not a url"}',
    '{"callbackUrl": "http://example.com/\\ud800"}', json.dumps({"callbackUrl": "http://example.com/" + "a" * 600}),
    '{"callbackUrl": NaN}', '{"callbackUrl": 1e999}', "{}", '{"callbackUrl": "http://example.com", "secret": "x"}',
], ids=["int", "null", "list", "nested", "ftp", "text", "surrogate", "too-long", "nan", "infinity", "missing",
        "unknown-field"])
def test_bad_input_is_a_400_with_the_field_path(api, tenant, raw):
    response = api.generic("PATCH", SETTINGS_URL, raw, content_type="application/json")
    assert response.status_code == 400, response.content
    if response.json()["error"] != "MALFORMED":  # the JSON parser's own refusal (NaN) comes before any field
        assert {d["path"] for d in response.json()["details"]} & {"$.callbackUrl", "$.secret"}, response.json()
    assert _client(tenant).callback_url == ""


def test_a_staff_session_is_not_the_client(tenant, api):
    staff = get_user_model().objects.create_superuser("ops", "ops@example.com", "pw")
    session = APIClient()
    session.force_login(staff)
    headers = {"HTTP_X_TENANT_ID": tenant, "HTTP_X_CLIENT_ID": "tests"}
    assert session.post(ROTATE_URL, **headers).status_code == 401
    assert session.patch(SETTINGS_URL, {"callbackUrl": ""}, format="json", **headers).status_code == 401


def test_each_key_acts_on_its_own_client_only(api, tenant):
    secret = _client(tenant).webhook_secret
    _, other_key = api_key_create(tenant=tenant, client_id="other", scopes=["runtime"])
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}", HTTP_X_TENANT_ID=tenant, HTTP_X_CLIENT_ID="other")
    assert other.post(ROTATE_URL).status_code == 200
    assert _client(tenant).webhook_secret == secret
    other.credentials(HTTP_AUTHORIZATION=f"Api-Key {other_key}", HTTP_X_TENANT_ID=tenant, HTTP_X_CLIENT_ID="tests")
    assert other.post(ROTATE_URL).status_code == 403
    assert _client(tenant).webhook_secret == secret


def test_a_key_without_the_runtime_scope_is_refused(tenant):
    definitions_only = client_for(tenant, client_id="defs", scopes=("definitions",))
    assert definitions_only.post(ROTATE_URL).status_code == 403


def test_the_endpoints_are_in_the_openapi_schema(api):
    paths = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    assert {"get", "patch"} <= set(paths[SETTINGS_URL]) and "post" in paths[ROTATE_URL]
