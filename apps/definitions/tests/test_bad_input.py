"""Bad input to every endpoint gives a JSON 4xx, never a 500."""

import pytest
from rest_framework.test import APIClient

from devtools.testing.tenancy import key_client

pytestmark = pytest.mark.django_db

NODE = {"id": "done", "name": "Completed", "type": "SUCCESS"}

# (method, path) of every endpoint; "{k}" is an existing key.
ENDPOINTS = [
    ("get", "/nodeDefinition/"), ("post", "/nodeDefinition/"), ("put", "/nodeDefinition/"),
    ("post", "/nodeDefinition/validate/"), ("get", "/nodeDefinition/{k}"),
    ("post", "/nodeDefinition/{k}/publishNode/"), ("post", "/nodeDefinition/{k}/activate?version=1"),
    ("get", "/nodeDefinition/{k}/versions/"), ("get", "/nodeDefinition/{k}/diff?from=1&to=1"),
    ("get", "/workflowDefinition/"), ("post", "/workflowDefinition/"), ("put", "/workflowDefinition/"),
    ("post", "/workflowDefinition/validate/"), ("get", "/workflowDefinition/{k}"),
    ("post", "/workflowDefinition/{k}/publishWorkflow/"), ("post", "/workflowDefinition/{k}/activate?version=1"),
    ("get", "/workflowDefinition/{k}/versions/"), ("get", "/workflowDefinition/{k}/diff?from=1&to=1"),
    ("get", "/routes/"), ("get", "/routes/{k}"), ("put", "/routes/{k}"), ("delete", "/routes/{k}"),
    ("get", "/enumStore/"), ("get", "/enumStore/{k}"), ("put", "/enumStore/{k}"), ("delete", "/enumStore/{k}"),
    ("get", "/auditLog/"),
]
# Writes that read a body (publish and activate take none).
WRITES = [(m, p) for m, p in ENDPOINTS if m in ("post", "put") and "publish" not in p and "activate" not in p]


def call(client: APIClient, method: str, path: str, **kwargs):
    return getattr(client, method)(path.replace("{k}", "done"), **kwargs)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_missing_auth_is_401(method, path):
    response = call(APIClient(), method, path)
    assert response.status_code == 401
    assert response.json()["error"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_wrong_scope_is_403(method, path):
    response = call(key_client("acme", ["runtime"]), method, path)
    assert response.status_code == 403
    assert response.json()["error"] == "FORBIDDEN"


# Endpoints naming one thing (upserts of routes and enum entries create it instead).
ITEM_ENDPOINTS = [("put", "/nodeDefinition/"), ("put", "/workflowDefinition/")] + [
    (m, p) for m, p in ENDPOINTS if "{k}" in p and (m, p) not in {("put", "/routes/{k}"), ("put", "/enumStore/{k}")}
]


@pytest.mark.parametrize(("method", "path"), ITEM_ENDPOINTS)
def test_unknown_id_is_404(api, method, path):
    kwargs = {"data": {"id": "done"}, "format": "json"} if method == "put" else {}
    response = call(api, method, path, **kwargs)
    assert response.status_code == 404, response.json()
    assert response.json()["error"] == "NOT_FOUND"


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_malformed_json_is_400(api, method, path):
    response = call(api, method, path, data='{"id": "x",', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "MALFORMED"


@pytest.mark.parametrize(("method", "path"), WRITES)
@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "42", "null"])
def test_non_object_body(api, method, path, body):
    api.post("/nodeDefinition/", NODE, format="json")
    response = call(api, method, path, data=body, content_type="application/json")
    assert response.status_code == 400, response.json()
    assert response.json()["details"][0]["path"] == "$"


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_oversized_body_is_413(api, settings, method, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = call(api, method, path, data='{"id": "' + "x" * 2000 + '"}', content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"] == "TOO_LARGE"


@pytest.mark.parametrize("path", ["/nodeDefinition/", "/workflowDefinition/"])
def test_deeply_nested_json_is_400(api, path):
    response = api.post(path, data="[" * 100_000 + "]" * 100_000, content_type="application/json")
    assert response.status_code == 400


@pytest.mark.parametrize("path", ["/nodeDefinition/", "/workflowDefinition/"])
@pytest.mark.parametrize(("body", "bad_path"), [
    ({}, "$.id"), ({"id": 5}, "$.id"), ({"id": "a/b"}, "$.id"), ({"id": "validate"}, "$.id"),
    ({"id": "ok", "version": {"n": 1}}, "$.version"), ({"id": "ok", "version": True}, "$.version"),
])
def test_wrong_types_name_the_path(api, path, body, bad_path):
    response = api.post(path, body, format="json")
    assert response.status_code == 400
    assert bad_path in [d["path"] for d in response.json()["details"]]


def test_workflow_with_wrong_field_types(api):
    body = {"id": "w", "startNode": 3, "states": {"a": "nope", "b": {"instanceName": "b", "resourceId": 7,
                                                                     "end": "yes", "parameters": []}},
            "postWorkflowCompletionNodes": "a", "defaultFailureNode": ["a"]}
    response = api.post("/workflowDefinition/", body, format="json")
    assert response.status_code == 400
    paths = {d["path"] for d in response.json()["details"]}
    assert {"$.startNode", "$.states.a", "$.states.b.resourceId", "$.states.b.end",
            "$.postWorkflowCompletionNodes", "$.defaultFailureNode"} <= paths


@pytest.mark.parametrize("query", ["version=banana", "version=0", "version=-1", "version=1.5",
                                   "version=99999999999999"])
@pytest.mark.parametrize("path", ["/nodeDefinition/done", "/workflowDefinition/done"])
def test_bad_version_param_is_400_with_path(api, path, query):
    response = api.get(f"{path}?{query}")
    assert response.status_code == 400
    assert response.json()["details"][0]["path"] == "$.query.version"


def test_bad_activate_and_diff_params(api):
    api.post("/nodeDefinition/", NODE, format="json")
    api.post("/nodeDefinition/done/publishNode/")
    assert api.post("/nodeDefinition/done/activate").json()["details"][0]["path"] == "$.query.version"
    assert api.post("/nodeDefinition/done/activate?version=SNAPSHOT").status_code == 400
    assert api.post("/nodeDefinition/done/activate?version=7").status_code == 404
    assert api.get("/nodeDefinition/done/diff?from=1").json()["details"][0]["path"] == "$.query.to"
    assert api.get("/nodeDefinition/done/diff?from=x&to=1").json()["details"][0]["path"] == "$.query.from"
    assert api.get("/nodeDefinition/done/diff?from=1&to=5").status_code == 404
    assert api.get("/workflowDefinition/x?enrichNodeDefinition=maybe").status_code == 400


@pytest.mark.parametrize(("body", "bad_path"), [
    ({}, "$.workflowId"), ({"workflowId": 5}, "$.workflowId"), ({"workflowId": "w", "version": "SOON"}, "$.version"),
    ({"workflowId": "w", "variants": "x"}, "$.variants"),
    ({"workflowId": "w", "variants": [{"workflowId": "w", "weight": -1}]}, "$.variants.0.weight"),
])
def test_bad_route_bodies(api, body, bad_path):
    response = api.put("/routes/issue", body, format="json")
    assert response.status_code == 400
    assert bad_path in [d["path"] for d in response.json()["details"]]


def test_bad_enum_bodies(api):
    assert api.put("/enumStore/oms", {"nope": 1}, format="json").json()["details"][0]["path"] == "$.value"
    assert api.put("/enumStore/bad key", {"value": 1}, format="json").status_code == 400
    assert api.put("/enumStore/oms", {"value": None}, format="json").status_code == 400


def test_form_encoded_body_is_415(api):
    response = api.post("/nodeDefinition/", {"id": "x"})  # multipart
    assert response.status_code == 415
