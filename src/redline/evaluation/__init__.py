"""Evaluation: suites, the scan, metrics, sanity checks and the result schema."""

from redline.evaluation._api import scan
from redline.evaluation._backdoor import BackdoorOptions, scan_backdoor
from redline.evaluation._result import SCHEMA_VERSION, CheckResult, ScanResult
from redline.evaluation._scan import ModelInfo
from redline.evaluation._suite import SUITES, Suite, get_suite
from redline.evaluation._threat import Threat, parse_threat

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
