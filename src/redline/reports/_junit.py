"""JUnit XML: one test case per sanity check and per policy finding, for CI dashboards."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from redline.reports._format import fmt_value, write_text
from redline.results import CheckResult, PolicyFinding, ScanResult

__all__ = ["render_junit", "write_junit"]

SUITE = "redline.scan"


def _check_case(check: CheckResult) -> ET.Element:
    """A check as a test case: FAIL fails, SKIP is skipped, WARN passes with its message."""
    case = ET.Element("testcase", classname=f"{SUITE}.checks", name=check.id, time="0")
    detail = "\n".join(
        [check.summary]
        + [f"{k}: {fmt_value(v)}" for k, v in check.evidence.items()]
        + ([f"fix: {check.fix}"] if check.fix else [])
    )
    if check.status == "FAIL":
        failure = ET.SubElement(case, "failure", message=check.summary, type="CheckFailed")
        failure.text = detail
    elif check.status == "SKIP":
        ET.SubElement(case, "skipped", message=check.summary)
    else:
        out = ET.SubElement(case, "system-out")
        out.text = f"{check.status}: {check.title}\n{detail}"
    return case


def _policy_case(finding: PolicyFinding) -> ET.Element:
    """A policy finding as a test case; a failed rule fails with its message."""
    case = ET.Element("testcase", classname=f"{SUITE}.policy", name=finding.rule, time="0")
    detail = f"{finding.message}\nactual: {finding.actual}\nthreshold: {finding.threshold}"
    if not finding.passed:
        failure = ET.SubElement(case, "failure", message=finding.message, type="PolicyFailed")
        failure.text = detail
    else:
        ET.SubElement(case, "system-out").text = detail
    return case


def _properties(result: ScanResult) -> ET.Element:
    """Suite properties: what was scanned and with which budget, for traceability."""
    props = ET.Element("properties")
    values = {
        "model.source": result.target.source or result.target.kind,
        "model.sha256": result.target.sha256 or "",
        "data.source": result.data.source,
        "data.sha256": result.data.sha256,
        "norm": result.config.norm or "none",
        "eps": ",".join(f"{e:g}" for e in result.config.eps),
        "seed": str(result.config.seed),
        "clean_accuracy": f"{result.clean.accuracy.value:.6g}",
    }
    values |= {f"robust_accuracy@{r.eps:g}": f"{r.robust.value:.6g}" for r in result.eps}
    if result.backdoor is not None:
        values["backdoor.verdict"] = result.backdoor.verdict
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=value)
    return props


def render_junit(result: ScanResult) -> str:
    """The JUnit XML document as a string (testsuites > testsuite "redline.scan")."""
    cases = [_check_case(c) for c in result.checks]
    if result.policy is not None:
        cases += [_policy_case(f) for f in result.policy.findings]
    counts = {
        "tests": len(cases),
        "failures": sum(c.find("failure") is not None for c in cases),
        "errors": 0,
        "skipped": sum(c.find("skipped") is not None for c in cases),
    }
    attrs = {k: str(v) for k, v in counts.items()} | {"time": f"{result.cost.seconds:.3f}"}
    root = ET.Element("testsuites", {"name": "redline", **attrs})
    suite = ET.SubElement(
        root, "testsuite", {"name": SUITE, "timestamp": result.created_at, **attrs}
    )
    suite.append(_properties(result))
    suite.extend(cases)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def write_junit(result: ScanResult, path: Path) -> None:
    """Write the JUnit XML report to ``path`` (folders created as needed)."""
    write_text(Path(path), render_junit(result))
