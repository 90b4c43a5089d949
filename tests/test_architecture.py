"""The floors are kept by import-linter (``lint-imports`` in ``make test``); these tests keep
its contracts honest as packages arrive (docs/architecture.md)."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "redline"


def _contracts() -> list[dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts: list[dict[str, object]] = config["tool"]["importlinter"]["contracts"]
    return contracts


def _exists(part: str) -> bool:
    return (PACKAGE / part).is_dir() or (PACKAGE / f"{part}.py").is_file()


def test_forbidden_contracts_name_existing_packages_themselves() -> None:
    """``redline.X.**`` stands for a package not written yet (import-linter refuses a missing
    module); once X exists it must be named ``redline.X``, or imports of its ``__init__``
    would slip through."""
    for contract in _contracts():
        if contract["type"] != "forbidden":
            continue
        for key in ("source_modules", "forbidden_modules"):
            for module in contract[key]:  # type: ignore[attr-defined]
                part = module.removeprefix("redline.").removesuffix(".**")
                if module.endswith(".**"):
                    assert not _exists(part), f"{contract['name']}: write {part} as redline.{part}"
                else:
                    assert _exists(part), f"{contract['name']}: redline.{part} does not exist"


def test_every_package_is_on_a_floor() -> None:
    """A new top-level package must be placed in the layers contract (exhaustive)."""
    layers = next(c for c in _contracts() if c["type"] == "layers")
    assert layers["exhaustive"] is True
    placed = {
        name.strip().strip("()")
        for floor in layers["layers"]  # type: ignore[attr-defined]
        for name in floor.replace(":", "|").split("|")
    }
    parts = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    parts |= {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    assert parts <= placed, sorted(parts - placed)
    assert {"results", "server", "monitoring", "privacy", "llm"} <= placed
