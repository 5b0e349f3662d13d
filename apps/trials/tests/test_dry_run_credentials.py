"""Issue 19 item 3: a dry-run against a real server reports the request it made, but never a credential derived
from a secret (a Basic value, an OAuth2 token), and the log lines written meanwhile are scrubbed like the worker's."""

from __future__ import annotations

import base64
import json
import logging

import pytest
from werkzeug import Request, Response

from apps.secrets.services import secret_put
from devtools.testing.builders import value
from devtools.testing.crm import CLIENT_ID, SECRETS, Crm
from devtools.testing.definitions import publish_definitions

pytestmark = pytest.mark.django_db
PASSWORD = "dry-run-pass-Vx81"
BASIC = base64.b64encode(f"svc:{PASSWORD}".encode()).decode()


def dry_run(api, key: str) -> dict:
    response = api.post(f"/nodeDefinition/{key}/dryRun?version=LATEST", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def authed_node(url: str, auth: dict) -> dict:
    return {"id": "call", "name": "call", "type": "HTTP", "auth": auth,
            "httpComponents": {"url": value(url, "STATIC"), "method": "GET"},
            "transformerComponents": {"transformer": value("return _response")}}


def test_basic_credential_is_masked_in_the_report_even_when_echoed(api, tenant, httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    secret_put(tenant=tenant, name="pw", value=PASSWORD, actor="test")

    def echo(request: Request) -> Response:  # a careless service that echoes the header, and refuses it
        return Response(json.dumps({"seen": request.headers.get("Authorization")}), status=401,
                        content_type="application/json")

    httpserver.expect_request("/svc").respond_with_handler(echo)
    publish_definitions(tenant, [authed_node(httpserver.url_for("/svc"),
                                             {"type": "BASIC", "username": "svc", "password": "{{secret:pw}}"})], [])
    report = dry_run(api, "call")
    assert httpserver.log and httpserver.log[0][0].headers["Authorization"] == f"Basic {BASIC}"  # it was sent
    assert report["request"]["headers"]["Authorization"] == "Basic ***"
    assert report["ok"] is False and "returned 401" in report["error"]["message"]
    assert BASIC not in json.dumps(report) and PASSWORD not in json.dumps(report)


def test_oauth2_token_is_masked_in_the_report(api, tenant, httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    crm = Crm(httpserver)
    secret_put(tenant=tenant, name="oauth_secret", value=SECRETS["oauth_secret"], actor="test")
    httpserver.expect_request("/whoami").respond_with_handler(
        lambda request: Response(json.dumps({"token": request.headers.get("Authorization")}),
                                 content_type="application/json"))
    auth = {"type": "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl": crm.token_url, "clientId": CLIENT_ID,
            "clientSecret": "{{secret:oauth_secret}}", "scope": f"dry-{tenant}"}
    publish_definitions(tenant, [authed_node(httpserver.url_for("/whoami"), auth)], [])
    report = dry_run(api, "call")
    assert report["ok"] is True, report
    assert crm.token_calls == 1  # a live token was fetched and used
    assert report["request"]["headers"]["Authorization"] == "Bearer ***"
    assert report["outcome"]["output"] == {"token": "Bearer ***"}
    assert "access-token-" not in json.dumps(report)


def test_log_lines_of_a_dry_run_are_scrubbed(api, tenant, httpserver, settings, caplog):
    caplog.set_level(logging.DEBUG)
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    secret_put(tenant=tenant, name="query_key", value="query-key-in-url-Jd3", actor="test")
    httpserver.expect_request("/orders").respond_with_json({"state": "SHIPPED"})
    node = authed_node(httpserver.url_for("/orders") + "?key={{secret:query_key}}", None)
    del node["auth"]
    publish_definitions(tenant, [node], [])
    assert dry_run(api, "call")["ok"] is True
    # The test server's own access log (werkzeug, its thread) is not ours to scrub.
    lines = [record.getMessage() for record in caplog.records if record.name != "werkzeug"]
    assert any("/orders?key=***" in line for line in lines), lines  # urllib3's request line, scrubbed
    assert not any("query-key-in-url-Jd3" in line for line in lines)
