"""What a host limit may say: the host's normal form (shared by rows and the URLs they limit), the limits' ranges,
and the model's validation (the admin form's)."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.nodes.apps import check_host_limits
from apps.nodes.host_limit_rules import limit_problems, normalize_host, url_keys
from apps.nodes.models import HostLimit


@pytest.mark.parametrize(("raw", "normal"), [
    ("API.Partner.com", "api.partner.com"),
    (" api.partner.com:8443 ", "api.partner.com:8443"),
    ("api.partner.com.", "api.partner.com"),
    ("Bücher.example", "xn--bcher-kva.example"),
    ("bücher.example:0443", "xn--bcher-kva.example:443"),
    ("10.0.0.7:80", "10.0.0.7:80"),
    ("[2001:DB8:0::1]", "[2001:db8::1]"),
    ("[2001:db8::1]:8443", "[2001:db8::1]:8443"),
    ("internal_svc.local", "internal_svc.local"),
])
def test_a_host_is_kept_in_one_spelling(raw, normal):
    assert normalize_host(raw) == normal


@pytest.mark.parametrize(("raw", "problem"), [
    ("", "1 to 259 characters"), ("a" * 300, "1 to 259 characters"), (5, "must be a string"),
    (None, "must be a string"), (":8080", "DNS name"), ("a..b", "DNS name"), ("-a.example", "DNS name"),
    ("a b.example", "DNS name"), ("a/b", "DNS name"), ("x" * 64 + ".example", "DNS name"),
    ("host:0", "port"), ("host:65536", "port"), ("host:", "port"), ("host:８０", "port"), ("host:-1", "port"),
    ("1.2.3.999", "IPv4"), ("2001:db8::1", "in brackets"), ("[2001:db8::zz]", "IPv6"), ("[::1]x", "[IPv6"),
    ("\ud800.example", "internationalised"), ("xn--.example", "DNS name"),
])
def test_a_malformed_host_is_refused_saying_why(raw, problem):
    with pytest.raises(ValueError, match=problem.replace("[", r"\[")):
        normalize_host(raw)


@pytest.mark.parametrize(("url", "keys"), [
    ("https://API.partner.com/v1/x?y=1", ("api.partner.com:443", "api.partner.com")),
    ("http://api.partner.com:8080/", ("api.partner.com:8080", "api.partner.com")),
    ("http://user:pw@127.0.0.1:9/x", ("127.0.0.1:9", "127.0.0.1")),
    ("https://bücher.example/", ("xn--bcher-kva.example:443", "xn--bcher-kva.example")),
    ("http://[::1]:8080/", ("[::1]:8080", "[::1]")),
    ("ftp://files.example/", ("files.example",)),
    ("http://api.example:99999/", ()), ("not a url", ()),
])
def test_a_url_is_limited_by_its_most_specific_key_first(url, keys):
    assert url_keys(url) == keys


@pytest.mark.parametrize(("body", "paths"), [
    ({"host": "a.example", "requestsPerSecond": 5}, []),
    ({"host": "a.example", "maxInFlight": 2, "burst": 3.5}, []),
    ({"requestsPerSecond": 5}, ["$.host"]),
    ({"host": "a.example"}, ["$"]),
    ({"host": "a.example", "requestsPerSecond": None, "maxInFlight": None}, ["$"]),
    ({"host": "a.example", "requestsPerSecond": "5"}, ["$.requestsPerSecond"]),
    ({"host": "a.example", "requestsPerSecond": True, "maxInFlight": 1}, ["$.requestsPerSecond"]),
    ({"host": "a.example", "requestsPerSecond": float("nan"), "maxInFlight": 1}, ["$.requestsPerSecond"]),
    ({"host": "a.example", "requestsPerSecond": float("inf"), "maxInFlight": 1}, ["$.requestsPerSecond"]),
    ({"host": "a.example", "requestsPerSecond": 0, "maxInFlight": 1}, ["$.requestsPerSecond"]),
    ({"host": "a.example", "requestsPerSecond": 1e6, "maxInFlight": 1}, ["$.requestsPerSecond"]),
    ({"host": "a.example", "maxInFlight": 1, "burst": 0.5}, ["$.burst"]),
    ({"host": "a.example", "maxInFlight": 1, "burst": None}, ["$.burst"]),
    ({"host": "a.example", "maxInFlight": 2.5}, ["$.maxInFlight"]),
    ({"host": "a.example", "maxInFlight": 2.0}, ["$.maxInFlight"]),
    ({"host": "a.example", "maxInFlight": 0}, ["$.maxInFlight"]),
    ({"host": "a.example", "maxInFlight": [1]}, ["$.maxInFlight"]),
    ({"host": ["a.example"], "maxInFlight": 1}, ["$.host"]),
    ({"host": "a.example", "maxInFlight": 1, "maxInflight": 2}, ["$.maxInflight"]),
])
def test_the_api_body_is_checked_field_by_field(body, paths):
    assert sorted(problem.path for problem in limit_problems(body)) == sorted(paths)


def test_the_model_normalises_its_host_and_puts_each_problem_on_its_field(db):
    row = HostLimit(host="API.Partner.com:8443", requests_per_second=5, burst=1, max_in_flight=None)
    row.full_clean()
    assert row.host == "api.partner.com:8443"
    row.save()

    with pytest.raises(ValidationError) as refused:
        HostLimit(host="a..b", requests_per_second=float("inf"), burst=0.5, max_in_flight=None).full_clean()
    assert set(refused.value.message_dict) == {"host", "requests_per_second", "burst"}
    with pytest.raises(ValidationError) as nothing_limited:
        HostLimit(host="b.example", burst=1).full_clean()
    assert "a limit must limit something" in str(nothing_limited.value.message_dict["__all__"])
    with pytest.raises(ValidationError) as duplicate:
        HostLimit(host="API.partner.COM:8443", requests_per_second=1, burst=1).full_clean()
    assert "host" in duplicate.value.message_dict


def test_a_malformed_host_in_the_setting_is_a_system_check_error(settings):
    settings.DRIFT_HOST_LIMITS = {"a..b": {"rate": 1}, "api.example:8443": {"inFlight": 2}}
    assert [error.msg for error in check_host_limits()] == [
        "DRIFT_HOST_LIMITS: a..b: the host must be a DNS name: labels of letters, digits, '-' and '_', 1-63 "
        "characters each"]
