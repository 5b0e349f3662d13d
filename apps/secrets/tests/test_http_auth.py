"""HTTP nodes with secrets: every auth kind against a server that checks it, OAuth2 token sharing and the
one refresh on 401, and failures that name the secret but never show a value."""

from __future__ import annotations

import base64

import pytest
from werkzeug import Request, Response

from devtools.testing.builders import state, success_node, value, workflow
from devtools.testing.crm import PHONE, SECRETS, Crm, crm_node, plant_secrets, publish_flow
from devtools.testing.definitions import publish_definitions

pytestmark = pytest.mark.temporal


def start(api, key: str) -> dict:
    response = api.post("/v3/workflow/start", {"params": {"workflowId": key}, "customer": {"phone": PHONE}},
                        format="json")
    assert response.status_code == 200, response.json()
    return response.json()


def test_oauth2_token_is_fetched_once_shared_by_runs_and_refreshed_once_on_401(api, runs, tenant, crm):
    plant_secrets(api)
    key = publish_flow(tenant, crm)
    assert [start(api, key)["workflowStatus"] for _ in range(2)] == ["WAITING", "WAITING"]
    assert crm.token_calls == 1  # the second run used the cached token

    crm.revoked.add("access-token-1-Rt8")  # the IdP revoked it before its expiry
    assert start(api, key)["workflowStatus"] == "WAITING"
    assert crm.token_calls == 2 and len(crm.received) == 3

    crm.revoked.add("access-token-2-Rt8")
    crm.revoked.add("access-token-3-Rt8")  # the refreshed token is refused too: fail, do not loop
    answer = start(api, key)
    assert answer["workflowStatus"] == "FAILED" and "returned 401" in answer["errorMessage"]
    assert crm.token_calls == 3


def test_a_missing_secret_fails_the_node_naming_it(api, runs, tenant, crm):
    plant_secrets(api, {name: v for name, v in SECRETS.items() if name != "header_key"})
    answer = start(api, publish_flow(tenant, crm))
    assert answer["workflowStatus"] == "FAILED"
    assert "secret 'header_key' is not set" in answer["errorMessage"]
    assert not any(secret in answer["errorMessage"] for secret in SECRETS.values())


def test_a_wrong_secret_fails_the_node_naming_the_secrets_not_their_values(api, runs, tenant, crm):
    wrong = "wrong-header-key-551"
    plant_secrets(api, SECRETS | {"header_key": wrong})
    answer = start(api, publish_flow(tenant, crm))
    message = answer["errorMessage"]
    assert answer["workflowStatus"] == "FAILED" and "returned 401" in message and "'header_key'" in message
    assert wrong not in message and SECRETS["query_key"] not in message  # the URL's query key is masked


def test_a_refused_client_secret_names_it(api, runs, tenant, crm):
    plant_secrets(api, SECRETS | {"oauth_secret": "not-the-client-secret"})
    message = start(api, publish_flow(tenant, crm))["errorMessage"]
    assert "OAuth2 token request" in message and "'oauth_secret'" in message and "not-the-client-secret" not in message


@pytest.mark.parametrize("auth, expected_header", [
    ({"type": "BASIC", "username": "svc", "password": "{{secret:pw}}"},
     ("Authorization", "Basic " + base64.b64encode(b"svc:pass-Word-1").decode())),
    ({"type": "BEARER", "token": "{{secret:pw}}"}, ("Authorization", "Bearer pass-Word-1")),
    ({"type": "API_KEY", "header": "X-Api-Key", "value": "{{secret:pw}}"}, ("X-Api-Key", "pass-Word-1")),
])
def test_basic_bearer_and_api_key_auth_come_from_secrets(api, runs, tenant, httpserver, settings, auth,
                                                         expected_header):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    plant_secrets(api, {"pw": "pass-Word-1"})
    name, expected = expected_header

    def check(request: Request) -> Response:
        return Response("{}", status=200 if request.headers.get(name) == expected else 401)

    httpserver.expect_request("/svc").respond_with_handler(check)
    node = {"id": "call", "name": "call", "type": "HTTP", "auth": auth,
            "httpComponents": {"url": value(httpserver.url_for("/svc"), "STATIC"), "method": "GET"}}
    publish_definitions(tenant, [node, success_node()], [workflow("authed", "call", [state("call", "call", "done"),
                                                                                     state("done")])])
    answer = start(api, "authed")
    assert answer["workflowStatus"] == "COMPLETED", answer


def test_scripts_never_see_secrets(api, runs, tenant, crm):
    """References are resolved after the scripts ran: a script building the body sees the reference text."""
    plant_secrets(api)
    node = crm_node(crm)
    node["httpComponents"]["body"] = value("return {'phone': nodeParameters.phone, 'note': '{{secret:query_key}}'[2:]}")
    answer = start(api, publish_flow(tenant, crm, node=node))
    assert answer["workflowStatus"] == "WAITING"
    assert crm.received[0]["note"] == "secret:query_key}}"


def test_auth_and_references_are_validated_with_paths(api):
    node = {"id": "bad", "name": "bad", "type": "HTTP",
            "httpComponents": {"url": value("http://x/{{secret:bad/name}}", "STATIC")},
            "auth": {"type": "BEARER", "token": "clear-text-token"}}
    response = api.post("/nodeDefinition/", node, format="json")
    assert response.status_code == 400
    paths = {detail["path"]: detail["problem"] for detail in response.json()["details"]}
    assert "secret reference" in paths["$.auth.token"]
    assert "$.httpComponents.url" in paths

    node["auth"] = {"type": "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl": "ftp://idp", "clientSecret": "{{secret:cs}}"}
    node["httpComponents"]["url"] = value("http://x/", "STATIC")
    paths = {d["path"] for d in api.post("/nodeDefinition/", node, format="json").json()["details"]}
    assert paths == {"$.auth.tokenUrl", "$.auth.clientId"}
    node["auth"] = {"type": "KERBEROS"}
    assert {d["path"] for d in api.post("/nodeDefinition/", node, format="json").json()["details"]} == {"$.auth.type"}


def test_crm_rejects_missing_credentials(crm: Crm, httpserver):
    """The fake CRM itself refuses a call without credentials (so the tests above prove something)."""
    import requests

    assert requests.post(crm.contact_url, json={"phone": PHONE}, timeout=5).status_code == 401
    assert requests.post(crm.token_url, data={"grant_type": "client_credentials"}, timeout=5).status_code == 401


def test_rerun_starts_with_the_original_sensitive_input(admin_client, api, runs, tenant, crm):
    """The start request is sealed at rest; rerun unseals it, so the new run calls the CRM with the real value."""
    from django.urls import reverse

    from apps.runs.models import RERUN_ID_PREFIX, Run
    from devtools.testing.rest import wait_for

    plant_secrets(api)
    first = start(api, publish_flow(tenant, crm))
    run = Run.objects.get(workflow_id=first["workflowId"])
    assert PHONE not in str(run.start_request)
    assert api.delete(f"/v3/workflow/terminate/{run.workflow_id}").status_code == 200
    # The rerun is an operation (apps.operations, above this app): asked for as the admin's Rerun button does.
    admin_client.post(reverse("admin:runs_run_rerun", args=[run.pk]))
    again = Run.objects.get(workflow_id__startswith=RERUN_ID_PREFIX)
    wait_for(lambda: Run.objects.get(pk=again.pk).status == "WAITING", "the rerun's screen")
    assert [body["phone"] for body in crm.received] == [PHONE, PHONE]


def test_run_data_never_references_a_secret(api, runs, tenant, crm):
    """Issue 19 item 4: only the definition's text may reference a secret. A customer phone of
    `{{secret:query_key}}` reaches the service as that text (the body script copies it from the parameters)."""
    plant_secrets(api)
    key = publish_flow(tenant, crm)
    response = api.post("/v3/workflow/start", {"params": {"workflowId": key},
                                               "customer": {"phone": "{{ secret:query_key }}"}}, format="json")
    assert response.status_code == 200 and response.json()["workflowStatus"] == "WAITING", response.json()
    assert crm.received == [{"phone": "{{ secret:query_key }}", "note": "call {{ secret:query_key }}"}]
