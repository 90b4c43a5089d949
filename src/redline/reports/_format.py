"""Number and label formatting shared by the HTML, Markdown and machine-readable reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redline.errors import InputError
from redline.results import Accuracy, CheckResult, ScanResult

__all__ = [
    "STATUS_ORDER",
    "class_name",
    "fmt_ci",
    "fmt_eps",
    "fmt_num",
    "fmt_pct",
    "fmt_value",
    "fmt_when",
    "norm_label",
    "sorted_checks",
    "status_counts",
    "write_text",
]

STATUS_ORDER = {"FAIL": 0, "WARN": 1, "PASS": 2, "SKIP": 3}
_NORM_LABELS = {"linf": "L∞", "l2": "L2"}


def fmt_pct(value: float | None, digits: int = 1) -> str:
    """A fraction in [0, 1] as a percentage ("97.2%"); an em dash when missing."""
    if value is None:
        return "—"
    return f"{100.0 * value:.{digits}f}%"


def fmt_ci(acc: Accuracy) -> str:
    """The Wilson 95% interval of an accuracy, in percent ("[95.1, 98.4]")."""
    return f"[{100.0 * acc.ci.low:.1f}, {100.0 * acc.ci.high:.1f}]"


def fmt_eps(eps: float) -> str:
    """An eps as a reader expects it: "8/255" for image-style budgets, else "0.5"."""
    if eps == 0.0:
        return "0"
    k = round(eps * 255)
    if round(eps, 3) != eps and k >= 1 and abs(eps * 255 - k) < 1e-6:
        return f"{k}/255"
    return f"{eps:.4g}"


def fmt_num(value: float | int | None) -> str:
    """A count with thousands separators, or a float with four significant digits."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f"{value:,}"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
        return f"{value:.3e}"
    return f"{value:.4g}"


def fmt_value(value: Any, limit: int = 160) -> str:
    """Any evidence / hyper-parameter value as one short line of text."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return fmt_num(value)
    if isinstance(value, (list, tuple)):
        shown = ", ".join(fmt_value(v, 40) for v in value[:8])
        more = f", … ({len(value)} items)" if len(value) > 8 else ""
        text = f"[{shown}{more}]"
    elif isinstance(value, dict):
        text = json.dumps(value, default=str, separators=(", ", ": "))
    elif value is None:
        text = "none"
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fmt_when(stamp: str) -> str:
    """An ISO timestamp as "2025-01-15 10:30 UTC"; anything else is shown unchanged."""
    try:
        when = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
        return when.strftime("%Y-%m-%d %H:%M UTC")
    return when.strftime("%Y-%m-%d %H:%M")


def norm_label(norm: str | None) -> str:
    """The threat-model norm as printed ("L∞", "L2"; "none" without an evasion part)."""
    return "none" if norm is None else _NORM_LABELS.get(norm, norm)


def class_name(result: ScanResult, index: int) -> str:
    """The name of class ``index`` from the data's class names, else the index itself."""
    names = result.data.class_names
    if names is not None and 0 <= index < len(names):
        return names[index]
    return str(index)


def sorted_checks(checks: list[CheckResult]) -> list[CheckResult]:
    """Checks with FAIL first, then WARN, PASS, SKIP; the scan's order within a status."""
    return sorted(checks, key=lambda c: STATUS_ORDER.get(c.status, len(STATUS_ORDER)))


def status_counts(checks: list[CheckResult]) -> dict[str, int]:
    """How many checks have each status, every status present (zero when absent)."""
    counts = dict.fromkeys(STATUS_ORDER, 0)
    for check in checks:
        counts[check.status] += 1
    return counts


def write_text(path: Path, text: str) -> None:
    """Write a report file, creating its folder; an unwritable path is a user error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot write report ({exc.strerror or exc})") from None
