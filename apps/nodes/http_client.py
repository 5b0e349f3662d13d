"""The HTTP client of node types (the HTTP node, OAuth2 token requests): every call goes through the SSRF guard
(`http_guard.py`) with one total deadline and a capped response; `limited_send` waits for the host's limit first."""

from __future__ import annotations

from typing import Any

import requests

from apps.nodes import host_limits, invocation
from apps.nodes.base import NodeError
from apps.nodes.http_guard import BlockedAddress, Deadline, guarded_session

MAX_RESPONSE_BYTES = 10 * 1024 * 1024


def limited_send(request: dict[str, Any], timeout: float) -> requests.Response:
    """`send` once the host's limit (a HostLimit row or DRIFT_HOST_LIMITS) admits it; the wait counts against the
    node's timeout (the activity's own deadline is that timeout) and is reported to the timeline."""
    with host_limits.admitted(request["url"], timeout) as waited:
        current = invocation.current()
        if current is not None:
            current.host_wait_ms += waited * 1000
        return send(request, max(timeout - waited, 0.001))


def send(request: dict[str, Any], timeout: float) -> requests.Response:
    """One guarded call, `timeout` in total (not per read: an upstream dripping bytes cannot hold the activity
    slot); connection problems and timeouts are retryable, refused targets are not."""
    timed_out = f"HTTP {request['method']} {request['url']} timed out after {timeout:g} s"
    with Deadline(timeout) as deadline, guarded_session() as session:
        try:
            response = session.request(timeout=timeout, stream=True, **request)
            response._content = _read_limited(response)
        except BlockedAddress as exc:
            raise NodeError(str(exc), retryable=False) from None
        except requests.TooManyRedirects as exc:
            raise NodeError(f"too many redirects: {exc}", retryable=False) from None
        except requests.Timeout:
            raise NodeError(timed_out, retryable=True) from None
        except requests.RequestException as exc:
            if deadline.expired:
                raise NodeError(timed_out, retryable=True) from None
            raise NodeError(f"HTTP {request['method']} {request['url']} failed: {exc}", retryable=True) from None
    if deadline.expired:  # cut inside the headers or body: http.client may take the EOF for their end
        raise NodeError(timed_out, retryable=True)
    return response


def _read_limited(response: requests.Response) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            response.close()
            raise NodeError(f"response larger than {MAX_RESPONSE_BYTES} bytes", retryable=False)
        chunks.append(chunk)
    return b"".join(chunks)
