"""The dependency direction of docs/architecture.md, enforced: import-linter's contracts (pyproject.toml),
workflow-side modules that load no framework when imported, every DRIFT_* setting declared, and the size limits
that keep a module one concept (issue 20)."""

import ast
import re
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
# What the Temporal workflow imports (directly or through these): plain Python only.
WORKFLOW_SIDE = ("worker.workflows", "worker.engine", "worker.run_state", "worker.run_end", "worker.errors",
                 "worker.kinds", "worker.test_mode", "worker.human_tasks", "apps.nodes.registry",
                 "apps.definitions.graph", "apps.definitions.parallel", "apps.definitions.map_state",
                 "apps.definitions.state_types",
                 "apps.runs.contract", "core.problems", "core.json_safety")
FRAMEWORKS = ("django", "rest_framework", "celery", "drift")
SETTING = re.compile(r"\bDRIFT_[A-Z0-9_]*[A-Z0-9]\b")


def test_import_contracts_are_kept():
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]
    assert "0 broken" in done.stdout


def test_types_check():
    """mypy over the workflow side, apps/nodes and the run contract ([tool.mypy] in pyproject.toml)."""
    done = subprocess.run([str(Path(sys.executable).parent / "mypy")], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout[-4000:]


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


MAX_METHODS = 25
MAX_LINES = 400
# Product modules allowed over MAX_LINES, each with the reason it has not been split yet. Keep it short.
LONG_MODULES = {
    "apps/nodes/sandbox_runtime.py": "the sandbox child's whole runtime, kept in one file it execs",
}


def test_no_class_under_worker_has_more_than_25_methods():
    """The walker was one class of 59 methods; kinds live in worker/kinds/ (docs/engine.md)."""
    crowded = {}
    for path in (ROOT / "worker").rglob("*.py"):
        for klass in ast.walk(ast.parse(path.read_text())):
            if isinstance(klass, ast.ClassDef):
                methods = [item for item in klass.body if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)]
                if len(methods) > MAX_METHODS:
                    crowded[f"{path.relative_to(ROOT)}:{klass.name}"] = len(methods)
    assert crowded == {}


def test_no_product_module_is_over_400_lines_outside_the_allow_list():
    long = {str(path.relative_to(ROOT)): len(path.read_text().splitlines()) for path in _code_files()}
    assert {path: lines for path, lines in long.items() if lines > MAX_LINES and path not in LONG_MODULES} == {}
    assert sorted(path for path in LONG_MODULES if long.get(path, 0) <= MAX_LINES) == []  # no stale entries


# Test helpers live in devtools/testing (a pytest plugin, issue 20): a test imports no conftest.py and no other
# test module (which pytest would also collect, and whose fixtures would come along by name).
TEST_SCAN = ("apps", "worker", "tests", "devtools")


def _imported_names(source: str, package: str) -> set[str]:
    """Every module an import statement names, with `from a import b` also as `a.b` (b may be a module)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            parent = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            base = ".".join([*parent, node.module] if node.module else parent)
            names |= {base} | {f"{base}.{alias.name}" for alias in node.names}
    return names


def _is_test_module(name: str) -> bool:
    """A conftest, or a `test_*` module that is no product module (worker/test_mode.py is one)."""
    parts = name.split(".")
    if parts[-1] == "conftest":
        return True
    return parts[-1].startswith("test_") and ("tests" in parts or not ROOT.joinpath(*parts).with_suffix(".py").exists())


def _test_module_imports(source: str, package: str) -> list[str]:
    return sorted(name for name in _imported_names(source, package) if _is_test_module(name))


def test_the_test_import_scan_finds_conftest_and_test_module_imports():
    source = ("from conftest import publish_definitions\nfrom apps.tasks.tests.conftest import PASSWORD\n"
              "from worker.tests.test_parallel import parallel\nfrom tests.browser import test_admin_flow\n"
              "from . import test_api\nimport worker.test_mode\nfrom devtools.testing.rest import start\n")
    assert _test_module_imports(source, "apps.runs.tests") == [
        "apps.runs.tests.test_api", "apps.tasks.tests.conftest", "conftest", "tests.browser.test_admin_flow",
        "worker.tests.test_parallel"]


def test_no_test_imports_a_conftest_or_another_test_module():
    found = {}
    for folder in TEST_SCAN:
        for path in (ROOT / folder).rglob("*.py"):
            package = ".".join(path.relative_to(ROOT).parent.parts)
            if imports := _test_module_imports(path.read_text(), package):
                found[str(path.relative_to(ROOT))] = imports
    assert found == {}
