"""The intended-use file of a model card: a small, strict TOML table the model's owner
writes, so the card states purpose and limits in their words instead of guessing.

Example::

    [intended_use]
    purpose = "Flag card transactions for manual fraud review."
    users = "Fraud analysts; never shown to card holders."
    out_of_scope = ["Automatic blocking without human review"]
    limitations = ["Trained on 2023 EU transactions only"]
    ethical_considerations = "False positives delay legitimate payments."
    contact = "ml-risk@example.com"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.errors import InputError

__all__ = ["INTENDED_USE_KEYS", "IntendedUse", "load_intended_use", "parse_intended_use"]

_TEXTS = ("purpose", "users", "ethical_considerations", "contact")
_LISTS = ("out_of_scope", "limitations")
INTENDED_USE_KEYS = (
    "purpose",
    "users",
    "out_of_scope",
    "limitations",
    "ethical_considerations",
    "contact",
)
"""The keys ``[intended_use]`` accepts; only ``purpose`` is required."""


@dataclass(frozen=True)
class IntendedUse:
    """What the model is for and where it must not be used, as its owner wrote it
    (``source`` is the file); absent optional keys are None or empty."""

    source: str
    purpose: str
    users: str | None = None
    out_of_scope: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()
    ethical_considerations: str | None = None
    contact: str | None = None


def load_intended_use(path: Path) -> IntendedUse:
    """Read and check an intended-use TOML file; any problem is an InputError naming the
    file (and the key, when one is at fault)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such intended-use file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise InputError(f"{path}: cannot read the intended-use file ({reason})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({' '.join(str(exc).split())})") from None
    return parse_intended_use(data, str(path))


def parse_intended_use(data: dict[str, Any], source: str) -> IntendedUse:
    """Check parsed TOML against the schema: one ``[intended_use]`` table, known keys
    only (a typo must not silently drop a limitation), strings and lists of strings."""
    extra = [key for key in data if key != "intended_use"]
    if extra:
        raise InputError(f"{source}: unknown key {extra[0]!r} (expected one [intended_use] table)")
    table = data.get("intended_use")
    if not isinstance(table, dict):
        raise InputError(f"{source}: no [intended_use] table")
    unknown = [key for key in table if key not in INTENDED_USE_KEYS]
    if unknown:
        raise InputError(
            f"{source}: unknown key 'intended_use.{unknown[0]}' "
            f"(known: {', '.join(INTENDED_USE_KEYS)})"
        )
    texts = {key: _text(table[key], key, source) for key in _TEXTS if key in table}
    lists = {key: _items(table[key], key, source) for key in _LISTS if key in table}
    if "purpose" not in texts:
        raise InputError(f"{source}: 'intended_use.purpose' is required")
    return IntendedUse(
        source=source,
        purpose=texts["purpose"],
        users=texts.get("users"),
        out_of_scope=lists.get("out_of_scope", ()),
        limitations=lists.get("limitations", ()),
        ethical_considerations=texts.get("ethical_considerations"),
        contact=texts.get("contact"),
    )


def _text(value: object, key: str, source: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{source}: 'intended_use.{key}' must be a non-empty string")
    return value.strip()


def _items(value: object, key: str, source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise InputError(f"{source}: 'intended_use.{key}' must be a list of non-empty strings")
    return tuple(v.strip() for v in value)
