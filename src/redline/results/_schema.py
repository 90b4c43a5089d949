"""Reading results back: schema version compatibility with a clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from redline.errors import InputError

if TYPE_CHECKING:
    from redline.results._scan import ScanResult

__all__ = ["load_result", "result_from_dict"]


def load_result(path: Path) -> ScanResult:
    """Parse a scan JSON; refuse other major schema versions and malformed files."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such scan result") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: not a readable JSON scan result ({exc})") from None
    return result_from_dict(raw, str(path))


def result_from_dict(raw: object, source: str) -> ScanResult:
    """Validate parsed JSON as a scan result (same rules as :func:`load_result`);
    ``source`` names where it came from in the error."""
    from redline.results._scan import SCHEMA_VERSION, ScanResult

    version = str(raw.get("schema_version", "")) if isinstance(raw, dict) else ""
    if version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise InputError(
            f"{source}: schema version {version or 'missing'} is not supported "
            f"(this redline reads {SCHEMA_VERSION})"
        )
    try:
        return ScanResult.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{source}: invalid scan result at {where}: {first['msg']}") from None
