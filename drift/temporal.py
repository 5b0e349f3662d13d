"""The API process's Temporal client.

Views are synchronous (WSGI), the Temporal SDK is asyncio: one event loop runs in a
daemon thread for the whole process and views submit coroutines to it. The client is
created lazily and rebuilt after a failed connection, so the API survives Temporal
restarts without restarting itself.
"""

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from django.conf import settings
from temporalio.client import Client

from drift.codec import data_converter
from drift.tracing import temporal_interceptors

T = TypeVar("T")

_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()
_client: Client | None = None


def _event_loop() -> asyncio.AbstractEventLoop:
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="temporal-client-loop", daemon=True).start()
        return _loop


def run_async(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run `coro` on the shared loop and wait for its result from synchronous code."""
    future: Future[T] = asyncio.run_coroutine_threadsafe(coro, _event_loop())
    return future.result(timeout)


async def temporal_client() -> Client:
    global _client
    if _client is None:
        _client = await Client.connect(
            settings.TEMPORAL_ADDRESS, namespace=settings.TEMPORAL_NAMESPACE, lazy=True,
            data_converter=data_converter(), interceptors=temporal_interceptors(),
        )
    return _client
