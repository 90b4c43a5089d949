"""SARIF 2.1.0: failed and warning checks and failed policy rules as code-scanning results."""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

from redline.reports._format import fmt_value, write_text
from redline.results import ScanResult

__all__ = [
    "SARIF_SCHEMA",
    "SARIF_VERSION",
    "artifact_uri",
    "render_sarif",
    "sarif_log",
    "write_sarif",
]

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {"FAIL": "error", "WARN": "warning"}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+://")


def artifact_uri(source: str) -> str:
    """A model or data source as a SARIF URI: URLs kept, paths as (relative) file URIs."""
    if _SCHEME.match(source):
        return source
    path = Path(source)
    if path.is_absolute():
        return path.as_uri()
    return quote(PurePosixPath(*path.parts).as_posix(), safe="/:@")


def _rule(rule_id: str, name: str, short: str, help_text: str, level: str) -> dict[str, Any]:
    return {
        "id": rule_id,
        "name": name,
        "shortDescription": {"text": short},
        "help": {"text": help_text},
        "defaultConfiguration": {"level": level},
    }


def _rules(result: ScanResult) -> list[dict[str, Any]]:
    """One rule per check id and per policy rule; help is the check's suggested fix.

    A rule's default level is what a failure means (error); WARN results say "warning".
    """
    rules = [_rule(c.id, c.id, c.title, c.fix or c.summary, "error") for c in result.checks]
    if result.policy is not None:
        rules += [
            _rule(f"policy/{f.rule}", f.rule, f"Policy rule {f.rule}", f.message, "error")
            for f in result.policy.findings
        ]
    return list({r["id"]: r for r in rules}.values())


def _locations(result: ScanResult) -> list[dict[str, Any]]:
    """Where a finding points: the model source (when known), then the data source."""
    sources = [s for s in (result.target.source, result.data.source) if s]
    return [{"physicalLocation": {"artifactLocation": {"uri": artifact_uri(s)}}} for s in sources]


def _results(result: ScanResult, index: dict[str, int]) -> list[dict[str, Any]]:
    """FAIL checks as errors, WARN checks as warnings, failed policy findings as errors."""
    out: list[tuple[str, str, str, dict[str, Any]]] = []
    for c in result.checks:
        if c.status in _LEVELS:
            text = f"{c.title}: {c.summary}" + (f" Fix: {c.fix}" if c.fix else "")
            evidence = {k: fmt_value(v) for k, v in c.evidence.items()}
            out.append((c.id, _LEVELS[c.status], text, {"evidence": evidence}))
    if result.policy is not None:
        for f in result.policy.findings:
            if not f.passed:
                extra = {"actual": f.actual, "threshold": f.threshold}
                out.append((f"policy/{f.rule}", "error", f.message, extra))
    sha = {"model_sha256": result.target.sha256, "data_sha256": result.data.sha256}
    return [
        {
            "ruleId": rule_id,
            "ruleIndex": index[rule_id],
            "level": level,
            "message": {"text": text},
            "locations": _locations(result),
            "properties": extra | sha,
        }
        for rule_id, level, text, extra in out
    ]


def _artifacts(result: ScanResult) -> list[dict[str, Any]]:
    """The scanned model and data with their sha256 fingerprints."""
    items = [(result.target.source, result.target.sha256, "model")]
    items.append((result.data.source, result.data.sha256, "data"))
    return [
        {"location": {"uri": artifact_uri(src)}, "roles": ["analysisTarget"]}
        | ({"hashes": {"sha-256": sha}} if sha else {})
        | {"properties": {"kind": kind}}
        for src, sha, kind in items
        if src
    ]


def sarif_log(result: ScanResult) -> dict[str, Any]:
    """The SARIF log as a JSON-ready dict (one run of the "redline" driver)."""
    rules = _rules(result)
    index = {r["id"]: i for i, r in enumerate(rules)}
    driver = {"name": "redline", "version": result.environment.redline, "rules": rules}
    properties = {
        "model_sha256": result.target.sha256,
        "data_sha256": result.data.sha256,
        "schema_version": result.schema_version,
        "norm": result.config.norm,
        "eps": result.config.eps,
        "clean_accuracy": result.clean.accuracy.value,
        "robust_accuracy": {f"{r.eps:g}": r.robust.value for r in result.eps},
        "policy_passed": None if result.policy is None else result.policy.passed,
        "backdoor_verdict": None if result.backdoor is None else result.backdoor.verdict,
    }
    run = {
        "tool": {"driver": driver},
        "artifacts": _artifacts(result),
        "results": _results(result, index),
        "invocations": [{"executionSuccessful": True}],
        "properties": properties,
    }
    return {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}


def render_sarif(result: ScanResult) -> str:
    """The SARIF log as indented JSON text."""
    return json.dumps(sarif_log(result), indent=2, ensure_ascii=False) + "\n"


def write_sarif(result: ScanResult, path: Path) -> None:
    """Write the SARIF 2.1.0 log to ``path`` (folders created as needed)."""
    write_text(Path(path), render_sarif(result))
