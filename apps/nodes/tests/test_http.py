"""HTTP node against a real local server, and the SSRF guard."""

import ipaddress
import json
import time

import pytest
from werkzeug import Response

from apps.nodes.base import NodeError
from apps.nodes.http_guard import BlockedAddress, check_ip, resolve_checked
from apps.nodes.registry import execute_node
from apps.nodes.scope import ScriptScope
from devtools.testing.slow_receiver import SlowReceiver

LOCAL = ["127.0.0.0/8", "::1/128"]


class FakeTokenProvider:
    def headers(self, node, scope):
        return {"Authorization": f"Bearer token-for-{node['id']}"}


def static(data, value_type="STRING"):
    return {"type": "STATIC", "value": {"type": value_type, "data": data}}


def script(source, value_type="STRING"):
    return {"type": "SCRIPT", "value": {"type": value_type, "data": source}}


def http_node(url, **extra):
    components = {"url": url, "method": "GET", **extra.pop("components", {})}
    return {"id": "call", "type": "HTTP", "httpComponents": components, **extra}


@pytest.fixture
def local_allowed(settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = LOCAL
    return settings


def scope_for(httpserver):
    return ScriptScope(context={"nodeParameters": {"orderId": 42}},
                       enum_store={"oms": {"base_url": httpserver.url_for("").rstrip("/")}})


def test_success_with_transformer_token_provider_and_script_url(httpserver, local_allowed):
    local_allowed.DRIFT_TOKEN_PROVIDER = "apps.nodes.tests.test_http.FakeTokenProvider"
    httpserver.expect_request(
        "/orders/42", method="POST", query_string="expand=items",
        headers={"Authorization": "Bearer token-for-call", "X-Trace": "t1"}, json={"note": "hi", "id": 42},
    ).respond_with_json({"status": "DELIVERED", "returnable": 1}, headers={"X-Version": "3"})
    node = http_node(
        script("return _enum_store.oms.base_url + '/orders/' + str(nodeParameters.orderId)"),
        components={"method": "POST", "headers": static({"X-Trace": "t1"}, "MAP"),
                    "queryParams": static({"expand": "items"}, "MAP"),
                    "body": script("return {'note': 'hi', 'id': nodeParameters.orderId}", "JSON")},
        transformerComponents={"transformer": script(
            "return {'status': _response.status, 'returnable': bool(_response.returnable),"
            " 'code': _status_code, 'version': _headers['x-version'], 'missing': _response.nothing.here}")},
    )
    outcome = execute_node(node, {}, scope_for(httpserver))
    assert outcome == {"output": {"status": "DELIVERED", "returnable": True, "code": 200, "version": "3",
                                  "missing": None}}
    httpserver.check_assertions()


def test_without_transformer_output_is_parsed_body_or_text(httpserver, local_allowed):
    httpserver.expect_request("/json").respond_with_json([1, 2])
    httpserver.expect_request("/text").respond_with_data("plain", content_type="text/plain")
    assert execute_node(http_node(static(httpserver.url_for("/json"))), {}, ScriptScope()) == {"output": [1, 2]}
    assert execute_node(http_node(static(httpserver.url_for("/text"))), {}, ScriptScope()) == {"output": "plain"}


def test_5xx_is_retryable(httpserver, local_allowed):
    httpserver.expect_request("/boom").respond_with_data("down", status=503)
    with pytest.raises(NodeError) as caught:
        execute_node(http_node(static(httpserver.url_for("/boom"))), {}, ScriptScope())
    assert caught.value.retryable and "503" in caught.value.message


def test_4xx_is_not_retryable_unless_configured(httpserver, local_allowed):
    httpserver.expect_request("/missing").respond_with_json({"error": "nope"}, status=404)
    node = http_node(static(httpserver.url_for("/missing")))
    with pytest.raises(NodeError) as caught:
        execute_node(node, {}, ScriptScope())
    assert not caught.value.retryable and "404" in caught.value.message
    with pytest.raises(NodeError) as caught:
        execute_node({**node, "retry": {"retryOn4xx": True}}, {}, ScriptScope())
    assert caught.value.retryable


def test_timeout_is_retryable(httpserver, local_allowed):
    def slow(request):
        time.sleep(1.5)
        return Response(json.dumps({"late": True}), content_type="application/json")

    httpserver.expect_request("/slow").respond_with_handler(slow)
    with pytest.raises(NodeError) as caught:
        execute_node(http_node(static(httpserver.url_for("/slow")), timeoutSeconds=0.3), {}, ScriptScope())
    assert caught.value.retryable and "timed out" in caught.value.message


@pytest.mark.parametrize("drip", ["body", "headers"])
def test_the_timeout_is_total_not_per_read(local_allowed, drip):
    """An upstream sending a byte every 0.25 s never trips a 1 s per-read timeout; the node still ends at 1 s."""
    upstream = SlowReceiver(drip=drip, total=40, interval=0.25)  # the whole answer takes 10 s
    try:
        with pytest.raises(NodeError) as caught:
            execute_node(http_node(static(upstream.url), timeoutSeconds=1), {}, ScriptScope())
        assert caught.value.retryable and "timed out after 1 s" in caught.value.message
        assert upstream.outcomes in ([], ["cut"])  # not served to the end (the server may not have noticed yet)
    finally:
        upstream.close()


def test_connection_refused_is_retryable(local_allowed):
    with pytest.raises(NodeError) as caught:
        execute_node(http_node(static("http://127.0.0.1:9/")), {}, ScriptScope())
    assert caught.value.retryable


def test_bad_url_fails_the_node():
    with pytest.raises(NodeError, match="not an http"):
        execute_node(http_node(static("file:///etc/passwd")), {}, ScriptScope())


# --- SSRF guard -----------------------------------------------------------------------------


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "::1", "0.0.0.0", "224.0.0.1", "100.64.0.1", "fe80::1", "fc00::1",
                                     "::ffff:127.0.0.1", "240.0.0.1"])
def test_guard_refuses_special_addresses_by_default(settings, address):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    with pytest.raises(BlockedAddress):
        check_ip(ipaddress.ip_address(address))


def test_guard_allows_public_addresses(settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    check_ip(ipaddress.ip_address("8.8.8.8"))
    check_ip(ipaddress.ip_address("2606:4700:4700::1111"))


@pytest.mark.parametrize(("address", "allowed"), [
    ("127.0.0.1", ["127.0.0.0/8"]), ("10.1.2.3", ["10.0.0.0/8"]), ("169.254.169.254", ["169.254.169.254/32"]),
    ("::1", ["::1/128"]), ("192.168.1.1", ["*"]),
])
def test_guard_allows_configured_networks(settings, address, allowed):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = allowed
    check_ip(ipaddress.ip_address(address))


def test_guard_checks_every_resolved_address(settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    with pytest.raises(BlockedAddress):
        resolve_checked("localhost", 80)


def test_http_node_refuses_loopback_by_default(httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = []
    httpserver.expect_request("/secret").respond_with_json({"secret": True})
    for url in (httpserver.url_for("/secret"), f"http://127.0.0.1:{httpserver.port}/secret",
                "http://169.254.169.254/latest/meta-data/", f"http://[::1]:{httpserver.port}/", "http://10.0.0.1/"):
        with pytest.raises(NodeError) as caught:
            execute_node(http_node(static(url)), {}, ScriptScope())
        assert "refused to connect" in caught.value.message and not caught.value.retryable
    assert httpserver.log == []


def test_redirects_are_checked_on_every_hop(httpserver, settings):
    settings.DRIFT_HTTP_ALLOWED_NETWORKS = ["127.0.0.1/32", "::1/128"]
    target = f"http://127.0.0.2:{httpserver.port}/inside"
    httpserver.expect_request("/hop").respond_with_data("", status=302, headers={"Location": target})
    httpserver.expect_request("/ok").respond_with_data("", status=302, headers={"Location": "/final"})
    httpserver.expect_request("/final").respond_with_json({"final": True})
    with pytest.raises(NodeError, match="refused to connect to 127.0.0.2"):
        execute_node(http_node(static(f"http://127.0.0.1:{httpserver.port}/hop")), {}, ScriptScope())
    outcome = execute_node(http_node(static(f"http://127.0.0.1:{httpserver.port}/ok")), {}, ScriptScope())
    assert outcome == {"output": {"final": True}}
