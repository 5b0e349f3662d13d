"""A chunked request body (Transfer-Encoding: chunked, no Content-Length) where the server cannot de-chunk it.

`manage.py runserver` (Django's WSGIServer, which pytest-django's `live_server` runs too) hands the app no body
at all: it used to be read as `{}` and accepted. It is answered 411 now; gunicorn, which de-chunks and says so
(`wsgi.input_terminated`), still gets its body read (and tests/test_run_command.py sends one through gunicorn).
"""

from __future__ import annotations

import io
import json
import socket
import urllib.parse
from http.client import HTTPResponse

import pytest
from django.test import Client

from apps.clients.services import api_key_create
from apps.definitions.selectors import enum_store_for

TENANT = "chunky"


def chunked_request(url: str, method: str, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """`body` in two chunks, written in one go (the server may answer before reading it, then close)."""
    host, port = urllib.parse.urlsplit(url).hostname, urllib.parse.urlsplit(url).port
    half = len(body) // 2
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:half], body[half:])) + b"0\r\n\r\n"
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}", "Transfer-Encoding: chunked", "Connection: close",
             *(f"{name}: {value}" for name, value in headers.items())]
    with socket.create_connection((host, port), timeout=60) as connection:
        connection.sendall("\r\n".join(lines).encode() + b"\r\n\r\n" + chunks)
        response = HTTPResponse(connection)
        response.begin()
        return response.status, response.read()


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Api-Key {key}", "X-Tenant-Id": TENANT, "Content-Type": "application/json"}


@pytest.mark.django_db(transaction=True)
def test_a_chunked_body_the_server_cannot_read_is_411_not_an_empty_object(live_server):
    _, key = api_key_create(tenant=TENANT, client_id="c", scopes=["definitions"])
    status, raw = chunked_request(live_server.url, "POST", "/nodeDefinition/validate/",
                                  b'{"id": "n", "type": "SCRIPT"}', _headers(key))
    assert status == 411, raw
    assert json.loads(raw)["error"] == "LENGTH_REQUIRED" and "Content-Length" in json.loads(raw)["message"]


@pytest.mark.django_db
def test_a_body_de_chunked_by_the_server_is_read():
    _, key = api_key_create(tenant=TENANT, client_id="c", scopes=["definitions"])
    body = b'{"value": "from a chunked body"}'
    response = Client().generic("PUT", "/enumStore/k", body, content_type="application/json",
                                headers=_headers(key), CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
                                **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True})
    assert response.status_code == 200, response.content
    assert enum_store_for(tenant=TENANT) == {"k": "from a chunked body"}
