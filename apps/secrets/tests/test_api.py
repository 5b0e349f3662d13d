"""The secrets API: write-only, tenant-scoped, `definitions` scope, bad input answered 4xx with the path."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from apps.secrets.models import Secret
from apps.secrets.selectors import SecretUnavailable, secret_value
from devtools.testing.tenancy import key_client

pytestmark = [pytest.mark.django_db, pytest.mark.mysql]

ENDPOINTS = [("get", "/secrets/"), ("put", "/secrets/token"), ("delete", "/secrets/token")]


def put(client: APIClient, name: str, body, **kwargs):
    if isinstance(body, str | bytes):
        return client.put(f"/secrets/{name}", data=body, content_type="application/json", **kwargs)
    return client.put(f"/secrets/{name}", body, format="json", **kwargs)


def test_put_stores_the_value_encrypted_and_never_returns_it(api, tenant):
    response = put(api, "crm.token", {"value": "tok-ABC-123"})
    assert response.status_code == 200 and response.json()["name"] == "crm.token"
    assert "tok-ABC-123" not in response.content.decode()
    stored = Secret.objects.get(tenant=tenant, name="crm.token")
    assert b"tok-ABC-123" not in bytes(stored.ciphertext)
    assert secret_value(tenant=tenant, name="crm.token") == "tok-ABC-123"

    assert put(api, "crm.token", {"value": "tok-NEW-456"}).status_code == 200  # replace
    assert secret_value(tenant=tenant, name="crm.token") == "tok-NEW-456"
    listed = api.get("/secrets/")
    assert [item["name"] for item in listed.json()] == ["crm.token"] and "tok-" not in listed.content.decode()
    assert api.get("/secrets/crm.token").status_code == 405  # no read-back endpoint exists


def test_secrets_are_per_tenant(api, tenant):
    put(api, "token", {"value": "mine-1234"})
    other = key_client("another-tenant", ["definitions"])
    assert other.get("/secrets/").json() == []
    assert other.delete("/secrets/token").status_code == 404
    with pytest.raises(SecretUnavailable, match="secret 'token' is not set for tenant 'another-tenant'"):
        secret_value(tenant="another-tenant", name="token")


def test_delete(api, tenant):
    put(api, "token", {"value": "v-12345"})
    assert api.delete("/secrets/token").status_code == 204
    assert api.delete("/secrets/token").status_code == 404


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_auth_and_scope(method, path):
    assert getattr(APIClient(), method)(path).status_code == 401
    response = getattr(key_client("acme", ["runtime"]), method)(path)
    assert response.status_code == 403 and response.json()["error"] == "FORBIDDEN"


@pytest.mark.parametrize(("body", "problem_path"), [
    ({}, "$.value"), ({"value": 5}, "$.value"), ({"value": None}, "$.value"), ({"value": ""}, "$.value"),
    ({"value": ["a"]}, "$.value"), ({"value": {"nested": "x"}}, "$.value"), ({"value": True}, "$.value"),
    ({"value": "x" * 20_000}, "$.value"), ('{"value": NaN}', None), ('{"value": Infinity}', None),
    ('{"value": "\\ud800"}', "$.value"), ("[1]", "$"), ('"text"', "$"),
])
def test_bad_values_are_400_with_the_path(api, tenant, body, problem_path):
    response = put(api, "token", body)
    assert response.status_code == 400, response.content
    if problem_path:  # NaN / Infinity are refused by the JSON parser itself (MALFORMED, no field)
        assert problem_path in [detail["path"] for detail in response.json()["details"]]
    assert not Secret.objects.filter(tenant=tenant).exists()


@pytest.mark.parametrize("name", ["a b", "x" * 101, "semi;colon", "{{secret}}", "%00"])
def test_bad_names_are_400(api, name):
    response = put(api, name, {"value": "v-12345"})
    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert response.json()["details"][0]["path"] == "$.name"


def test_malformed_deep_and_huge_bodies(api, settings):
    assert put(api, "token", '{"value": ').status_code == 400
    assert put(api, "token", "[" * 100_000 + "]" * 100_000).status_code == 400
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    assert put(api, "token", '{"value": "' + "x" * 2000 + '"}').status_code == 413


@pytest.mark.parametrize(("paths", "bad"), [
    ("$.customer.phone", "$.sensitivePaths"), ([5], "$.sensitivePaths[0]"), (["customer.phone"], "$.sensitivePaths[0]"),
    (["$.ok", "$..x"], "$.sensitivePaths[1]"), (["$"], "$.sensitivePaths[0]"), (["$.x"] * 101, "$.sensitivePaths"),
])
def test_sensitive_paths_are_validated(api, paths, bad):
    body = {"id": "w", "startNode": "done", "sensitivePaths": paths,
            "states": {"done": {"instanceName": "done", "nodeDefinition": {"id": "done", "type": "SUCCESS"}}}}
    response = api.post("/workflowDefinition/", body, format="json")
    assert response.status_code == 400 and bad in [d["path"] for d in response.json()["details"]]
    body["sensitivePaths"] = ["$.customer.phone", "$.params.card.number"]
    assert api.post("/workflowDefinition/", body, format="json").status_code == 201
