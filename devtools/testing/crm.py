"""A CRM with an OAuth2 token endpoint that checks every credential, and the flow that calls it."""

from __future__ import annotations

import base64
import json
from typing import Any

from werkzeug import Request, Response

from devtools.testing.builders import instruction_node, state, success_node, value, workflow
from devtools.testing.definitions import publish_definitions

PHONE = "+1-555-0142-77"
SECRETS = {"oauth_secret": "oauth-client-secret-7Hq2", "query_key": "query-key-Zp91x", "header_key": "hdr-key-Kw55m"}
CLIENT_ID = "drift-crm"


class Crm:
    """A CRM that refuses any request without the right token, query key, header and body, and an OAuth2
    token endpoint that checks the client credentials. It echoes the header key back (a careless service)."""

    def __init__(self, httpserver) -> None:
        self.token_calls = 0
        self.revoked: set[str] = set()
        self.received: list[dict[str, Any]] = []
        httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(self.token)
        httpserver.expect_request("/crm/contact", method="POST").respond_with_handler(self.contact)
        self.token_url, self.contact_url = httpserver.url_for("/oauth/token"), httpserver.url_for("/crm/contact")

    def token(self, request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"{CLIENT_ID}:{SECRETS['oauth_secret']}".encode()).decode()
        if request.headers.get("Authorization") != expected or request.form.get("grant_type") != "client_credentials":
            return Response(json.dumps({"error": "invalid_client"}), status=401, content_type="application/json")
        self.token_calls += 1
        body = {"access_token": f"access-token-{self.token_calls}-Rt8", "token_type": "bearer", "expires_in": 3600}
        return Response(json.dumps(body), content_type="application/json")

    def contact(self, request: Request) -> Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if not token.startswith("access-token-") or token in self.revoked:
            return Response("bad token", status=401)
        if request.args.get("key") != SECRETS["query_key"] or request.headers.get("X-Key") != SECRETS["header_key"]:
            return Response("bad key", status=401)
        body = request.get_json()
        self.received.append(body)
        echo = {"ok": body.get("phone") == PHONE, "seen": {"phone": body.get("phone"), "key": SECRETS["header_key"]}}
        return Response(json.dumps(echo), content_type="application/json")


def crm_node(crm: Crm, node_id: str = "crm_contact", **auth: str) -> dict[str, Any]:
    return {
        "id": node_id, "name": node_id, "type": "HTTP", "parameters": ["phone"],
        "httpComponents": {
            "url": value(f"{crm.contact_url}?key={{{{secret:query_key}}}}", "STATIC"),
            "method": "POST",
            "headers": value({"X-Key": "{{secret:header_key}}"}, "STATIC", "MAP"),
            "body": value("return {'phone': nodeParameters.phone, 'note': 'call ' + nodeParameters.phone}"),
        },
        "auth": {"type": "OAUTH2_CLIENT_CREDENTIALS", "tokenUrl": crm.token_url, "clientId": CLIENT_ID,
                 "clientSecret": "{{secret:oauth_secret}}", "scope": "contacts"} | auth,
    }


def confirm_screen() -> dict[str, Any]:
    option = {"id": "confirm", "description": "Confirm the number",
              "instructions": [{"templateId": "confirm_phone", "templateVariables": {"phone": "{{customer.phone}}"}}]}
    return instruction_node("confirm", [option])


def publish_flow(tenant: str, crm: Crm, key: str = "contact_flow", node: dict | None = None) -> str:
    node = node or crm_node(crm)
    states = [
        state("crm_contact", node["id"], "confirm", parameters={"phone": "$.customer.phone"}),
        state("confirm", "confirm", "done"), state("done"),
    ]
    publish_definitions(tenant, [node, confirm_screen(), success_node()],
                        [workflow(key, "crm_contact", states, sensitivePaths=["$.customer.phone"])])
    return key


def plant_secrets(api, secrets: dict[str, str] = SECRETS) -> None:
    for name, secret in secrets.items():
        response = api.put(f"/secrets/{name}", {"value": secret}, format="json")
        assert response.status_code == 200, response.json()
        assert secret not in response.content.decode()
