"""``redline scan --corruptions``: the natural-shift stage of a scan (common corruptions
of images, natural shifts of tabular rows), stored as the result's ``natural_shift``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from redline.errors import InputError

if TYPE_CHECKING:
    import numpy.typing as npt

    from redline.datasets import BoundSchema, Dataset
    from redline.results import NaturalShiftSection
    from redline.targets import Target

__all__ = ["ShiftSpec", "parse_corruptions", "run_shift"]

_SEVERITIES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class ShiftSpec:
    """``--corruptions``: which corruptions (None: all) at which severities."""

    names: tuple[str, ...] | None
    severities: tuple[int, ...] = _SEVERITIES


def _severities(text: str) -> tuple[int, ...]:
    try:
        values = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise InputError(f"--corruptions: severities {text!r} must be integers 1..5") from None
    if not values or not set(values) <= set(_SEVERITIES):
        raise InputError(f"--corruptions: severities {text!r} must be in 1..5")
    return tuple(values)


def parse_corruptions(text: str) -> ShiftSpec:
    """``all``, ``all:1,3,5``, ``gaussian_noise,contrast`` or ``contrast:5``."""
    from redline.datasets import corruption_names

    head, sep, tail = text.strip().lower().partition(":")
    severities = _severities(tail) if sep else _SEVERITIES
    names = [part.strip() for part in head.split(",") if part.strip()]
    if names == ["all"]:
        return ShiftSpec(None, severities)
    known = corruption_names()
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        raise InputError(
            f"--corruptions: unknown corruption {unknown[0] if unknown else text!r}; use all "
            f"or some of {', '.join(known)} (optionally :severities, e.g. all:1,3,5)"
        )
    return ShiftSpec(tuple(dict.fromkeys(names)), severities)


def check_shift_data(spec: ShiftSpec, shape: tuple[int, ...], tabular: bool) -> None:
    """Fail before the attacks if the data cannot take the chosen shifts."""
    from redline.evaluation._shift_image import check_image_batch

    if len(shape) == 2 or tabular:
        if spec.names is not None or spec.severities != _SEVERITIES:
            raise InputError(
                "--corruptions on tabular data runs every tabular shift (noise, missing "
                "values, quantile shifts) at the five severities: use --corruptions all"
            )
        return
    check_image_batch(shape)


def run_shift(
    spec: ShiftSpec,
    target: Target,
    data: Dataset,
    y: npt.NDArray[Any],
    seed: int,
    *,
    schema: BoundSchema | None = None,
    reference: npt.NDArray[Any] | None = None,
) -> NaturalShiftSection:
    """The natural-shift section of ``target`` on ``data`` (images or rows)."""
    if data.x.ndim == 2:
        from redline.evaluation._shift_tabular import tabular_shift

        return tabular_shift(
            target, data.x, y, schema=schema, names=data.feature_names,
            reference=reference, groups=data.groups, seed=seed,
        )  # fmt: skip
    from redline.evaluation._shift_image import image_shift

    return image_shift(
        target, data.x, y, corruptions=spec.names, severities=spec.severities,
        groups=data.groups, seed=seed,
    )  # fmt: skip
