"""The app layering (the layers contract in pyproject.toml, run by test_architecture.py): what a lower layer
needs from a higher one is registered into it when Django starts, and the DSL validator stays free of models."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("apps", "core", "drift", "worker")


def _run(probe: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", **env})


def test_importing_the_dsl_validator_loads_no_model_module():
    # Settings named but Django not set up: a models module imported on the way fails the import outright
    # ("Apps aren't loaded yet"), and one that somehow loads shows in sys.modules.
    probe = ("import sys\nimport apps.definitions.dsl\n"
             f"print(sorted(m for m in sys.modules if m.split('.')[0] in {PROJECT!r} and m.endswith('.models')))")
    done = _run(probe, DJANGO_SETTINGS_MODULE="drift.settings")
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip() == "[]"


def test_every_process_that_sets_django_up_registers_the_hooks_of_the_upper_apps():
    """Web, worker and Celery processes all call django.setup(): AppConfig.ready() registers the test-case gate
    (apps.trials), the task mirror (apps.tasks) and the secret store (apps.secrets)."""
    probe = """
import django
django.setup()
from apps.definitions.activation import cases_gate
from apps.nodes.extensions import secret_store
from apps.runs import hooks
print(cases_gate().__module__, secret_store().value.__module__,
      [hook.__module__ for hook in hooks._state_recorded], [hook.__module__ for hook in hooks._runs_terminated])
"""
    done = _run(probe, DJANGO_SETTINGS_MODULE="drift.settings")
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.split() == ["apps.trials.services", "apps.secrets.apps", "['apps.tasks.services']",
                                   "['apps.tasks.services']"]
