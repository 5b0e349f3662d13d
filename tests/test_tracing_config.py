"""Tracing is configured by the OpenTelemetry SDK's environment variables only, and off costs nothing: without an
endpoint a process loads no SDK, no exporter, no instrumentation and gives Temporal no interceptor (spec §14).
Each case runs in a fresh interpreter: tracing is per process, and this one may have it on (test_tracing.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devtools.otlp_receiver import OtlpReceiver

PROBE = """
import json, os, sys
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "drift.settings")
import django
django.setup()
from django.conf import settings
import apps.runs.services, drift.temporal, worker.activities, worker.main  # everything a run goes through
from opentelemetry import trace  # redis-py imports the API (and SDK) itself when installed
from drift.tracing import current_trace, node_span, temporal_interceptors, tracing_flush, tracing_init
on = tracing_init("drift-worker")
with node_span("n", "SCRIPT"):
    traced = current_trace()
tracing_flush()
print(json.dumps({
    "on": on, "interceptors": [type(i).__name__ for i in temporal_interceptors()], "trace": traced,
    "loaded": sorted(m for m in sys.modules if m.startswith(("opentelemetry.exporter", "opentelemetry.instrument"))),
    "provider": type(trace.get_tracer_provider()).__name__,
    "middleware": [m for m in settings.MIDDLEWARE if "opentelemetry" in m],
}))
"""


def _probe(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run([sys.executable, "-c", PROBE], env=clean | env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_an_endpoint_nothing_is_loaded_or_added():
    off = _probe()
    assert off == {"on": False, "interceptors": [], "trace": ["", ""], "loaded": [], "middleware": [],
                   "provider": "ProxyTracerProvider"}


@pytest.mark.parametrize("variable", ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
def test_an_endpoint_turns_it_on_and_the_service_name_comes_from_the_environment(variable):
    receiver = OtlpReceiver()
    try:
        url = receiver.url if variable == "OTEL_EXPORTER_OTLP_ENDPOINT" else f"{receiver.url}/v1/traces"
        on = _probe(**{variable: url})
        named = _probe(**{variable: url, "OTEL_SERVICE_NAME": "drift-worker-eu"})
        assert named["on"]
        unsampled = _probe(**{variable: url, "OTEL_TRACES_SAMPLER": "always_off"})
    finally:
        receiver.close()
    assert on["on"] and on["interceptors"] == ["TracingInterceptor"] and len(on["trace"][0]) == 32
    assert "opentelemetry.exporter.otlp.proto.http.trace_exporter" in on["loaded"] and on["middleware"]
    assert on["provider"] == "TracerProvider"
    spans = receiver.spans()
    assert sorted(span.service for span in spans) == ["drift-worker", "drift-worker-eu"]  # always_off: none sent
    assert {span.name for span in spans} == {"node n"} and unsampled["on"]
