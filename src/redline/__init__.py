"""redline: security toolkit for machine-learning models.

Names are imported on first use so that ``redline --help`` answers without
importing torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from redline._version import __version__

if TYPE_CHECKING:
    from redline.errors import InputError, RedlineError
    from redline.evaluation import scan, scan_backdoor
    from redline.policy import Policy, load_policy
    from redline.results import ScanResult
    from redline.targets import CallableTarget, Target, TorchTarget

__all__ = [
    "CallableTarget",
    "InputError",
    "Policy",
    "RedlineError",
    "ScanResult",
    "Target",
    "TorchTarget",
    "__version__",
    "load_policy",
    "scan",
    "scan_backdoor",
]

_WHERE = {
    "CallableTarget": "redline.targets",
    "InputError": "redline.errors",
    "Policy": "redline.policy",
    "RedlineError": "redline.errors",
    "ScanResult": "redline.results",
    "Target": "redline.targets",
    "TorchTarget": "redline.targets",
    "load_policy": "redline.policy",
    "scan": "redline.evaluation",
    "scan_backdoor": "redline.evaluation",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        value = getattr(import_module(_WHERE[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'redline' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
