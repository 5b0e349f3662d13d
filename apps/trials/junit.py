"""Test reports as JUnit XML (for the CI of definition repositories)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from apps.trials.models import TestReport


def junit_xml(reports: list[TestReport]) -> bytes:
    root = ET.Element("testsuites", name="drift definitions")
    for report in reports:
        failed = [case for case in report.cases if not case["passed"]]
        suite = ET.SubElement(root, "testsuite", name=f"{report.tenant}/{report.workflow_key} v{report.version}",
                              tests=str(len(report.cases)), failures=str(len(failed)), errors="0", skipped="0")
        for case in report.cases:
            element = ET.SubElement(suite, "testcase", name=case["name"],
                                    classname=f"{report.tenant}.{report.workflow_key}.v{report.version}")
            if not case["passed"]:
                failure = ET.SubElement(element, "failure", message=case["failure"] or "failed")
                failure.text = "\n".join(_timeline_lines(case))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _timeline_lines(case: dict) -> list[str]:
    lines = [f"status {case.get('status')}, path {' > '.join(case.get('path') or [])}"]
    for entry in case.get("timeline") or []:
        error = f": {entry['error']}" if entry.get("error") else ""
        lines.append(f"{entry['seq']}. {entry['instance']} ({entry['type']}) {entry['outcome']}{error}")
    return lines


def write_junit_xml(path: Path, reports: list[TestReport]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(reports))
