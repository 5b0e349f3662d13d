"""Request bodies sent with `Transfer-Encoding: chunked` (no Content-Length).

Django sizes a body by Content-Length alone, so a chunked body reads as empty: a start without its
fields, an event stored as {}. gunicorn de-chunks `wsgi.input` (and says so: `wsgi.input_terminated`); this
middleware reads it, within DATA_UPLOAD_MAX_MEMORY_SIZE (413 past it), and hands Django the body with its length.
A server that does not de-chunk (`manage.py runserver`, wsgiref) hands over no body at all: 411, never `{}`.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import SimpleTemplateResponse

from drift.errors import ErrorBody

_READ_SIZE = 64 * 1024


def _is_chunked(request: HttpRequest) -> bool:
    encoding = request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
    return "chunked" in encoding and not request.META.get("CONTENT_LENGTH")


def _read_at_most(stream, limit: int | None) -> bytes:
    """Read to the end of `stream`, stopping one byte past `limit`."""
    parts, size = [], 0
    while limit is None or size <= limit:
        want = _READ_SIZE if limit is None else min(_READ_SIZE, limit + 1 - size)
        part = stream.read(want)
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


class ChunkedBodyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _is_chunked(request) and not request.META.get("wsgi.input_terminated"):
            # No `Connection: close` here: wsgiref refuses hop-by-hop headers from the application.
            message = "This server cannot read a chunked body: send it with a Content-Length."
            return JsonResponse(ErrorBody("LENGTH_REQUIRED", message).as_dict(), status=411)
        if _is_chunked(request):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            body = _read_at_most(request.META["wsgi.input"], limit)
            if limit is not None and len(body) > limit:
                message = f"The request body exceeds {limit} bytes."
                response = JsonResponse(ErrorBody("TOO_LARGE", message).as_dict(), status=413)
                response["Connection"] = "close"  # the rest of the body is not read
                return response
            request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))
        return self.get_response(request)


class SurrogateSafePagesMiddleware:
    """Admin pages render rows stored before the strict parser; a lone surrogate in one would make the page
    a 500 (UTF-8 cannot encode it). Such a page is answered with the character shown as its escape."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_template_response(self, request: HttpRequest, response: SimpleTemplateResponse):
        content = response.rendered_content  # DRF's responses render to bytes themselves (drift/renderers.py)
        if isinstance(content, str):
            try:
                content.encode(response.charset)
            except UnicodeEncodeError:
                content = content.encode(response.charset, "backslashreplace").decode(response.charset)
        response.content = content  # rendered: Django's own render() is skipped
        return response
