"""JUnit XML: one case per check and policy finding, counts that CI dashboards trust."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from redline.reports import render_junit, write_junit
from redline.results import ScanResult


def _suite(result: ScanResult) -> ET.Element:
    root = ET.fromstring(render_junit(result))
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert len(suites) == 1 and suites[0].get("name") == "redline.scan"
    return suites[0]


def test_counts(image_result: ScanResult) -> None:
    suite = _suite(image_result)
    cases = suite.findall("testcase")
    assert len(cases) == 5 + 3
    assert suite.get("tests") == "8"
    assert suite.get("failures") == "3"  # one FAIL check, two failed policy rules
    assert suite.get("skipped") == "1" and suite.get("errors") == "0"
    assert sum(c.find("failure") is not None for c in cases) == 3


def test_case_outcomes(image_result: ScanResult) -> None:
    cases = {c.get("name"): c for c in _suite(image_result).findall("testcase")}
    failed = cases["blackbox-vs-whitebox"].find("failure")
    assert failed is not None and "gradients look masked" in (failed.get("message") or "")
    assert "BPDA" in (failed.text or "")
    warn = cases["attack-convergence"]
    assert warn.find("failure") is None and warn.find("skipped") is None
    assert "still rising" in (warn.findtext("system-out") or "")
    assert cases["stochastic-model"].find("skipped") is not None
    policy = cases["robust_accuracy@8/255"]
    assert policy.get("classname") == "redline.scan.policy"
    policy_failure = policy.find("failure")
    assert policy_failure is not None and "below 40%" in (policy_failure.get("message") or "")
    assert cases["clean_accuracy"].find("failure") is None


def test_properties(image_result: ScanResult) -> None:
    props = {p.get("name"): p.get("value") for p in _suite(image_result).iter("property")}
    assert props["model.sha256"] == image_result.target.sha256
    assert props["data.sha256"] == image_result.data.sha256
    assert float(props["clean_accuracy"] or 0) == round(image_result.clean.accuracy.value, 6)


def test_no_policy_all_pass(tabular_result: ScanResult, tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit(tabular_result, path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("1", "0", "0")
