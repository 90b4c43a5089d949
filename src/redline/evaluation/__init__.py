"""Evaluation: suites, the scan and the sanity checks of the evaluation itself.

The scan returns a :class:`redline.results.ScanResult` (the ground floor); ``ScanResult``,
``CheckResult`` and ``SCHEMA_VERSION`` are re-exported here for existing imports."""

from redline.evaluation._api import scan
from redline.evaluation._backdoor import BackdoorOptions, scan_backdoor
from redline.evaluation._scan import ModelInfo
from redline.evaluation._suite import SUITES, Suite, get_suite
from redline.evaluation._threat import Threat, parse_threat
from redline.results import SCHEMA_VERSION, CheckResult, ScanResult

__all__ = [
    "SCHEMA_VERSION",
    "SUITES",
    "BackdoorOptions",
    "CheckResult",
    "ModelInfo",
    "ScanResult",
    "Suite",
    "Threat",
    "get_suite",
    "parse_threat",
    "scan",
    "scan_backdoor",
]
