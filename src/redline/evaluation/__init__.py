"""Evaluation: suites, the scan and the sanity checks of the evaluation itself.

The scan returns a :class:`redline.results.ScanResult` (the ground floor); ``ScanResult``,
``CheckResult`` and ``SCHEMA_VERSION`` are re-exported here for existing imports.
The backdoor checks and the natural-shift stages (:func:`image_shift`,
:func:`tabular_shift`) load on first use: they pull scikit-learn and scipy (about 1.2 s),
which an evasion scan does not need."""

from typing import TYPE_CHECKING, Any

from redline.evaluation._api import scan
from redline.evaluation._scan import ModelInfo
from redline.evaluation._suite import SUITES, Suite, get_suite
from redline.evaluation._threat import Threat, parse_threat
from redline.results import SCHEMA_VERSION, CheckResult, ScanResult

if TYPE_CHECKING:
    from redline.evaluation._backdoor import BackdoorOptions, scan_backdoor
    from redline.evaluation._shift_image import image_shift
    from redline.evaluation._shift_tabular import tabular_shift

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
    "image_shift",
    "parse_threat",
    "scan",
    "scan_backdoor",
    "tabular_shift",
]

_LAZY = {
    "BackdoorOptions": "_backdoor",
    "scan_backdoor": "_backdoor",
    "image_shift": "_shift_image",
    "tabular_shift": "_shift_tabular",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f"redline.evaluation.{_LAZY[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'redline.evaluation' has no attribute {name!r}")
