"""The dependency direction of docs/architecture.md, enforced: import-linter's contracts (pyproject.toml),
workflow-side modules that load no framework when imported, and every DRIFT_* setting declared."""

import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
# What the Temporal workflow imports (directly or through these): plain Python only.
WORKFLOW_SIDE = ("worker.workflows", "worker.test_mode", "worker.human_tasks", "apps.nodes.registry",
                 "apps.definitions.graph", "apps.definitions.parallel", "apps.definitions.map_state",
                 "apps.runs.contract", "core.problems", "core.json_safety")
FRAMEWORKS = ("django", "rest_framework", "celery", "drift")
SETTING = re.compile(r"\bDRIFT_[A-Z0-9_]*[A-Z0-9]\b")


def test_import_contracts_are_kept():
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout


def test_workflow_side_modules_load_no_framework():
    probe = (f"import sys\nfor name in {WORKFLOW_SIDE!r}:\n    __import__(name)\n"
             f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({FRAMEWORKS!r})))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr[-4000:]
    assert done.stdout.strip() == "[]"


def _code_files() -> list[Path]:
    """The product's code (devtools/ are dev-only scripts with their own variables; drift/settings.py declares)."""
    return [path for folder in ("apps", "core", "drift", "worker") for path in (ROOT / folder).rglob("*.py")
            if "tests" not in path.parts and "migrations" not in path.parts and path != ROOT / "drift/settings.py"]


def test_every_drift_setting_the_code_reads_is_declared():
    used = {name for path in _code_files() for name in SETTING.findall(path.read_text())}
    assert used, "the scan found no DRIFT_* names"
    assert sorted(name for name in used if not hasattr(settings, name)) == []


def test_only_settings_read_drift_variables_from_the_environment():
    ad_hoc = [str(path.relative_to(ROOT)) for path in _code_files()
              if re.search(r"environ(\.get)?\(\s*[\"']DRIFT_|environ\[[\"']DRIFT_",
                                                          path.read_text())]
    assert ad_hoc == []
