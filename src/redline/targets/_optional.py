"""Helpers of the loaders for optional formats: import a library of the tabular extra
with a clear error, and the first line of a library's exception for a one-line message."""

from __future__ import annotations

import importlib
from typing import Any

from redline.errors import InputError

__all__ = ["first_line", "optional_import"]


def optional_import(module: str, what: str) -> Any:
    """``import module``, or an InputError saying that ``what`` needs the tabular extra."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        name = module.split(".")[0]
        raise InputError(f"{what} need {name}: pip install 'redline[tabular]'") from exc


def first_line(exc: BaseException, limit: int = 200) -> str:
    """The exception's first line (its type name when it has no message)."""
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
