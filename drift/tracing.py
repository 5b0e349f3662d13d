"""OpenTelemetry tracing (spec §14, docs/operations.md "Tracing"): one start is one trace across the API, the
worker and Celery.

Configured only by the SDK's own environment variables (`OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_SERVICE_NAME`,
`OTEL_TRACES_SAMPLER`, `OTEL_EXPORTER_OTLP_HEADERS`, ...). Without an endpoint nothing here imports the SDK:
no exporter, no instrumentation, no Temporal interceptor, and the helpers below return at their first line.

Each process calls `tracing_init` once, after any fork (gunicorn `post_fork`, `run_worker`, Celery's
`worker_process_init`): the exporter's batch thread and connections must belong to the process that uses them.
The spans come from the maintained instrumentations (Django, requests, Celery, Temporal's TracingInterceptor);
the only span of our own is the node's, around the node's work inside its activity (workflow code stays
untouched, so histories replay as before).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

_lock = threading.Lock()
_provider: TracerProvider | None = None  # set once tracing is on in this process
_NOT_TRACED = contextlib.nullcontext()


def tracing_configured() -> bool:
    """Whether the environment names an OTLP endpoint (and the SDK is not disabled)."""
    if os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def tracing_enabled() -> bool:
    return _provider is not None


def tracing_init(service: str) -> bool:
    """Turn tracing on in this process when configured; `service` unless OTEL_SERVICE_NAME names another.
    Idempotent. Returns whether tracing is on."""
    global _provider
    with _lock:
        if _provider is None and tracing_configured():
            _provider = _new_provider(service)
            _instrument(_provider)
        return _provider is not None


def _new_provider(service: str) -> TracerProvider:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    # Resource.create reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME; ours is only the default name.
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service}
    provider = TracerProvider(resource=Resource.create(attributes))  # the sampler: OTEL_TRACES_SAMPLER(_ARG)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))  # endpoint, headers: OTEL_EXPORTER_OTLP_*
    if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):  # the global can be set only once
        trace.set_tracer_provider(provider)
    return provider


def _instrument(provider: TracerProvider) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.requests import RequestsInstrumentor

    # Adds its middleware to settings.MIDDLEWARE: called before the app (its handler) is built.
    DjangoInstrumentor().instrument(tracer_provider=provider, request_hook=_incoming_without_query)
    RequestsInstrumentor().instrument(tracer_provider=provider, request_hook=_outgoing_origin_only)
    CeleryInstrumentor().instrument(tracer_provider=provider)


def _outgoing_origin_only(span: Any, request: Any) -> None:
    """Outbound URLs (HTTP nodes, webhooks) may carry secrets (`?key={{secret:...}}`) or sensitive values in their
    path or query: the span keeps scheme, host and port only."""
    parts = urlsplit(request.url or "")
    _replace_url(span, f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}")


def _incoming_without_query(span: Any, request: Any) -> None:
    """A search's query string may hold a sensitive value (`param.phone=...`): the request span keeps the path."""
    _replace_url(span, request.build_absolute_uri(request.path))


def _replace_url(span: Any, url: str) -> None:
    attributes = getattr(span, "attributes", None) or {}
    for key in ("http.url", "url.full"):
        if key in attributes:
            span.set_attribute(key, url)
    for key in ("http.target", "url.query"):
        if key in attributes:
            span.set_attribute(key, "" if key == "url.query" else urlsplit(url).path)


def tracing_shutdown() -> None:
    """Flush and stop (tests; a process that ends flushes by itself at exit)."""
    global _provider
    with _lock:
        if _provider is None:
            return
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.instrumentation.requests import RequestsInstrumentor

        for instrumentor in (DjangoInstrumentor(), RequestsInstrumentor(), CeleryInstrumentor()):
            instrumentor.uninstrument()
        _provider.shutdown()
        _provider = None


def tracing_flush() -> None:
    if _provider is not None:
        _provider.force_flush()


def temporal_interceptors() -> list[Any]:
    """Temporal client (and so worker) interceptors: the SDK's TracingInterceptor when tracing is on."""
    if _provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(_provider.get_tracer("temporalio"))]


def current_trace() -> tuple[str, str]:
    """(trace id, span id) of the current span as lower-case hex; ("", "") when tracing is off or no span."""
    if _provider is None:
        return "", ""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    if not context.is_valid:
        return "", ""
    return format(context.trace_id, "032x"), format(context.span_id, "016x")


def link_current_span(trace_id: str, span_id: str) -> None:
    """Link the current span (a resume's request) to a run's trace (spec §14: its own span, linked)."""
    if _provider is None or not trace_id or not span_id:
        return
    from opentelemetry import trace

    linked = trace.SpanContext(int(trace_id, 16), int(span_id, 16), is_remote=True,
                               trace_flags=trace.TraceFlags(trace.TraceFlags.SAMPLED))
    trace.get_current_span().add_link(linked, {"drift.link": "run"})


def node_span(instance: str, node_type: str) -> AbstractContextManager[Any]:
    """The span of one node's execution, around its work in the activity: instance name, type and outcome
    (SUCCESS, or FAILURE when an exception leaves it). Never the node's input, output or error text."""
    if _provider is None:
        return _NOT_TRACED
    return _node_span(instance, node_type)


@contextlib.contextmanager
def _node_span(instance: str, node_type: str) -> Iterator[None]:
    from opentelemetry.trace import StatusCode

    tracer = _provider.get_tracer("drift.nodes")
    attributes = {"drift.node.instance": instance, "drift.node.type": node_type}
    with tracer.start_as_current_span(f"node {instance}", attributes=attributes, record_exception=False,
                                      set_status_on_exception=False) as span:
        try:
            yield
        except BaseException:
            span.set_attribute("drift.node.outcome", "FAILURE")
            span.set_status(StatusCode.ERROR)
            raise
        span.set_attribute("drift.node.outcome", "SUCCESS")
