"""The poisoner ``redline poison`` builds from its options (imported lazily): one builder
per attack, and options set for an attack they do not apply to refused by one table."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, cast

from redline.errors import InputError
from redline.poisoning import (
    SIG,
    AdaptiveBlend,
    AdaptivePatch,
    BadNets,
    Blended,
    BlendTrigger,
    FeaturePatchTrigger,
    FrequencyTrigger,
    LabelConsistent,
    LabelFlip,
    PatchTrigger,
    Poisoner,
    SampleSpecificTrigger,
    SignalTrigger,
    Trigger,
    WaNet,
    WarpTrigger,
)

if TYPE_CHECKING:
    from redline.cli._poison_run import PoisonRequest

__all__ = ["APPLIES", "build_poisoner"]

Shape = tuple[int, ...]
Bounds = tuple[float, float]
PATCH = ("badnets", "label-consistent")
APPLIES: dict[str, tuple[str, ...]] = {
    "mode": ("badnets", "label-flip"),
    "source_class": ("label-flip",),
    "patch_size": PATCH,
    "patch_pattern": PATCH,
    "patch_shape": PATCH,
    "location": PATCH,
    "alpha": ("blended",),
    "key": ("blended", "adaptive-blend"),
    "amplitude": ("sig", "sample-specific"),
    "eps": ("label-consistent",),
    "strength": ("wanet",),
    "grid": ("wanet",),
    "magnitude": ("frequency",),
    "cover_rate": ("adaptive-blend", "adaptive-patch"),
}
"""Which attacks each attack-specific option applies to (``PoisonRequest`` field names)."""
PATTERNS = ("checkerboard", "solid", "random")
SHAPES = ("square", "cross", "x", "ring", "line")
LOCATIONS: tuple[str, ...] = ("bottom-right", "bottom-left", "top-left", "top-right")
LOCATIONS += ("center", "top", "bottom", "left", "right", "random")
KEYS = ("noise", "low-frequency")


def _choice(value: str | None, default: str, choices: tuple[str, ...], option: str) -> str:
    chosen = default if value is None else value
    if chosen not in choices:
        raise InputError(f"{option} {chosen!r}: choose from {', '.join(choices)}")
    return chosen


def _refuse_unused(req: PoisonRequest) -> None:
    """An attack-specific option set for another attack is an error, not silently ignored."""
    for field, attacks in APPLIES.items():
        if getattr(req, field) is not None and req.attack not in attacks:
            names = " and ".join([", ".join(attacks[:-1]), attacks[-1]] if attacks[1:] else attacks)
            option = "--" + field.replace("_", "-")
            raise InputError(f"{option} applies to {names}, not {req.attack}")


def _patch(req: PoisonRequest, shape: Shape, bounds: Bounds) -> Trigger:
    size = 3 if req.patch_size is None else req.patch_size
    if len(shape) == 1:
        for field in ("patch_pattern", "patch_shape", "location"):
            if getattr(req, field) is not None:
                option = "--" + field.replace("_", "-")
                raise InputError(f"{option} applies to images; tabular data gets a feature patch")
        return FeaturePatchTrigger.last(shape[0], min(size, shape[0]), bounds=bounds)
    channels = shape[0] if len(shape) == 3 else 1
    pattern = _choice(req.patch_pattern, "checkerboard", PATTERNS, "--patch-pattern")
    kw: dict[str, Any] = {
        "shape": _choice(req.patch_shape, "square", SHAPES, "--patch-shape"),
        "location": _choice(req.location, "bottom-right", LOCATIONS, "--location"),
        "bounds": bounds,
    }
    if pattern == "random":
        return PatchTrigger.random(size, channels, seed=req.seed, **kw)
    make = PatchTrigger.solid if pattern == "solid" else PatchTrigger.checkerboard
    return make(size, channels, **kw)


def _key(req: PoisonRequest, shape: Shape, bounds: Bounds, alpha: float) -> BlendTrigger:
    if _choice(req.key, "noise", KEYS, "--key") == "low-frequency":
        return BlendTrigger.low_frequency(shape, seed=req.seed, alpha=alpha, bounds=bounds)
    return BlendTrigger.noise(shape, seed=req.seed, alpha=alpha, bounds=bounds)


def _badnets(req: PoisonRequest, shape: Shape, bounds: Bounds) -> Poisoner:
    mode = req.mode or "all-to-one"
    if mode not in ("all-to-one", "all-to-all"):
        raise InputError(f"--mode {mode!r}: badnets takes all-to-one or all-to-all")
    kind = cast(Literal["all-to-one", "all-to-all"], mode)
    return BadNets(
        trigger=_patch(req, shape, bounds), target_class=_target(req), rate=req.rate, mode=kind
    )


def _label_flip(req: PoisonRequest, _shape: Shape, _bounds: Bounds) -> Poisoner:
    mode = req.mode or ("targeted" if req.source_class is not None else "random")
    if mode not in ("random", "targeted"):
        raise InputError(f"--mode {mode!r}: label-flip takes random or targeted")
    return LabelFlip(
        rate=req.rate,
        mode=cast(Literal["random", "targeted"], mode),
        source_class=req.source_class,
        target_class=req.target_class if mode == "targeted" else None,
    )


def _label_consistent(req: PoisonRequest, shape: Shape, bounds: Bounds) -> Poisoner:
    req.model.check()
    surrogate, _ = req.model.load()
    trigger = _patch(req, shape, bounds)
    return LabelConsistent(
        target_class=_target(req),
        rate=req.rate,
        eps=_or(req.eps, 0.2),
        surrogate=surrogate,
        trigger=trigger,
    )


def _wanet(req: PoisonRequest, _shape: Shape, bounds: Bounds) -> Poisoner:
    default = WarpTrigger()
    grid = default.grid if req.grid is None else req.grid
    strength = default.strength if req.strength is None else req.strength
    warp = WarpTrigger(grid=grid, strength=strength, seed=req.seed, bounds=bounds)
    return WaNet(rate=req.rate, target_class=_target(req), trigger=warp)


def _target(req: PoisonRequest) -> int:
    return 0 if req.target_class is None else req.target_class


def _or(value: float | None, default: float) -> float:
    return default if value is None else value


def _blended(req: PoisonRequest, shape: Shape, bounds: Bounds) -> Poisoner:
    key = _key(req, shape, bounds, _or(req.alpha, 0.15))
    return Blended(trigger=key, target_class=_target(req), rate=req.rate)


def _sig(req: PoisonRequest, _shape: Shape, bounds: Bounds) -> Poisoner:
    signal = SignalTrigger(amplitude=_or(req.amplitude, 0.1), bounds=bounds)
    return SIG(trigger=signal, target_class=_target(req), rate=req.rate)


def _adaptive_blend(req: PoisonRequest, shape: Shape, bounds: Bounds) -> Poisoner:
    key = _key(req, shape, bounds, 0.15).pattern
    return AdaptiveBlend(
        rate=req.rate, target_class=_target(req), key=key, cover_rate=req.cover_rate, bounds=bounds
    )


def _adaptive_patch(req: PoisonRequest, shape: Shape, bounds: Bounds) -> Poisoner:
    patches = AdaptivePatch.default_patches(shape, seed=req.seed, bounds=bounds)
    return AdaptivePatch(
        rate=req.rate,
        target_class=_target(req),
        patches=patches,
        cover_rate=req.cover_rate,
        bounds=bounds,
    )


def _frequency(req: PoisonRequest, _shape: Shape, bounds: Bounds) -> Poisoner:
    trigger = FrequencyTrigger(magnitude=_or(req.magnitude, 0.1), bounds=bounds)
    return BadNets(trigger=trigger, target_class=_target(req), rate=req.rate)


def _sample_specific(req: PoisonRequest, _shape: Shape, bounds: Bounds) -> Poisoner:
    trigger = SampleSpecificTrigger(amplitude=_or(req.amplitude, 0.1), seed=req.seed, bounds=bounds)
    return BadNets(trigger=trigger, target_class=_target(req), rate=req.rate)


Builder = Callable[["PoisonRequest", Shape, Bounds], Poisoner]
BUILDERS: dict[str, Builder] = {
    "badnets": _badnets,
    "blended": _blended,
    "sig": _sig,
    "label-flip": _label_flip,
    "label-consistent": _label_consistent,
    "wanet": _wanet,
    "adaptive-blend": _adaptive_blend,
    "adaptive-patch": _adaptive_patch,
    "frequency": _frequency,
    "sample-specific": _sample_specific,
}
"""One builder per attack name (the keys are ``redline poison --attack``'s choices)."""


def build_poisoner(req: PoisonRequest, shape: Shape) -> Poisoner:
    """The attack object for the options; options that do not apply are refused first."""
    from redline.cli.poison import ATTACK_NAMES

    if req.attack not in BUILDERS:
        raise InputError(f"unknown attack {req.attack!r}; choose from {', '.join(ATTACK_NAMES)}")
    _refuse_unused(req)
    return BUILDERS[req.attack](req, shape, req.model.parsed_bounds())
