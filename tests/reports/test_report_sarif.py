"""SARIF 2.1.0: schema keys, one rule per check and policy rule, results at the right level."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from redline.reports import render_sarif, write_sarif
from redline.reports._sarif import artifact_uri
from redline.results import ScanResult


def test_log_shape(image_result: ScanResult) -> None:
    log = json.loads(render_sarif(image_result))
    assert log["version"] == "2.1.0" and log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "redline" and driver["version"] == "0.1.0"
    ids = [r["id"] for r in driver["rules"]]
    assert len(ids) == len(set(ids)) == 5 + 3
    assert {c.id for c in image_result.checks} <= set(ids) and "policy/no_failed_checks" in ids
    rule = next(r for r in driver["rules"] if r["id"] == "attack-convergence")
    assert rule["shortDescription"]["text"] == "Attacks converged"
    assert rule["help"]["text"].startswith("Raise the number of steps")
    assert run["properties"]["model_sha256"] == image_result.target.sha256


def test_results_levels(image_result: ScanResult) -> None:
    run = json.loads(render_sarif(image_result))["runs"][0]
    results = run["results"]
    levels = Counter(r["level"] for r in results)
    assert levels == {"error": 3, "warning": 1}  # FAIL check + 2 failed rules; WARN check
    rules = run["tool"]["driver"]["rules"]
    for r in results:
        assert rules[r["ruleIndex"]]["id"] == r["ruleId"]
        uris = [loc["physicalLocation"]["artifactLocation"]["uri"] for loc in r["locations"]]
        assert uris == ["models/digits_cnn.pt", "sklearn:digits/test"]
        assert r["properties"]["model_sha256"] == image_result.target.sha256
    assert {r["ruleId"] for r in results if r["level"] == "error"} == {
        "blackbox-vs-whitebox",
        "policy/robust_accuracy@8/255",
        "policy/no_failed_checks",
    }
    model = run["artifacts"][0]
    assert model["hashes"]["sha-256"] == image_result.target.sha256


def test_clean_scan_has_no_results(tabular_result: ScanResult, tmp_path: Path) -> None:
    path = tmp_path / "out.sarif"
    write_sarif(tabular_result, path)
    run = json.loads(path.read_text(encoding="utf-8"))["runs"][0]
    assert run["results"] == []
    assert [a["location"]["uri"] for a in run["artifacts"]] == ["data/cancer.csv"]
    assert run["properties"]["model_sha256"] is None


def test_artifact_uri() -> None:
    assert artifact_uri("hf://org/model") == "hf://org/model"
    assert artifact_uri("/abs/my model.pt") == "file:///abs/my%20model.pt"
    assert artifact_uri("rel/dir/m.onnx") == "rel/dir/m.onnx"
