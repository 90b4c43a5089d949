"""The poisoner contract: validate, choose samples (seeded), apply, return ground truth.

A subclass stores keyword-only hyper-parameters in ``__init__`` (no logic there) and
writes only :meth:`Poisoner._candidates` and :meth:`Poisoner._apply`; the base class
validates the rate, the classes and the inputs, draws the samples and builds the
:class:`PoisonedData`. An attack with cover samples (triggered, labels kept) also writes
:meth:`Poisoner._cover` and :meth:`Poisoner._apply_cover`. :class:`AttackSpec` says what
a successful attack looks like at test time (which samples are eligible, which label the
attacker wants, which trigger).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt

from redline.datasets import Dataset, validate_arrays
from redline.errors import InputError
from redline.poisoning._types import PoisonedData, Trigger

__all__ = ["AttackSpec", "Poisoner", "TestMode", "check_class", "draw_cover", "poisoned_count"]

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
TestMode = Literal["all-to-one", "all-to-all", "targeted", "random"]


def poisoned_count(rate: Any, n: int, name: str) -> int:
    """``round(rate * n)``; a rate outside (0, 1) or one that poisons nothing is an error."""
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.0 < rate < 1.0:
        raise InputError(f"{name}: rate must be a number in (0, 1), got {rate!r}")
    count = round(rate * n)
    if count == 0:
        raise InputError(
            f"{name}: rate {rate:g} poisons 0 of {n} samples; use a rate above {0.5 / n:.2g}"
        )
    return count


def check_class(value: Any, num_classes: int, what: str, name: str) -> int:
    """An integer class id in ``[0, num_classes)``, else an error naming it."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{name}: {what} must be an integer class id, got {value!r}")
    if not 0 <= int(value) < num_classes:
        raise InputError(f"{name}: {what} {value} is outside the label range 0..{num_classes - 1}")
    return int(value)


def draw_cover(
    y: Labels,
    payload: npt.NDArray[np.intp],
    count: int,
    rng: np.random.Generator,
    *,
    exclude: int | None,
    name: str,
    cap: bool = False,
) -> npt.NDArray[np.intp]:
    """``count`` cover samples drawn outside the payload and outside class ``exclude``;
    more than there are is an error, or (``cap``) as many as there are."""
    pool = np.setdiff1d(np.arange(len(y)), payload)
    if exclude is not None:
        pool = pool[y[pool] != exclude]
    if count > len(pool) and not cap:
        where = "" if exclude is None else f" and outside target class {exclude}"
        raise InputError(
            f"{name}: cover_rate asks {count} cover samples but only {len(pool)} samples lie "
            f"outside the payload{where}"
        )
    return np.asarray(rng.choice(pool, size=min(count, len(pool)), replace=False), np.intp)


@dataclass(frozen=True)
class AttackSpec:
    """What the attacker wants at test time.

    ``all-to-one``: every input whose label is not ``target_class`` should go to it once
    triggered; ``all-to-all``: label ``y`` should go to ``(y + 1) % num_classes``;
    ``targeted`` (label flipping): ``source_class`` inputs should go to ``target_class``,
    untouched; ``random`` (label flipping): no attack target exists.
    """

    mode: TestMode
    trigger: Trigger | None
    target_class: int | None
    source_class: int | None
    num_classes: int

    def eligible(self, y: Labels) -> npt.NDArray[np.bool_]:
        """The test samples the attack success rate is measured on."""
        if self.mode == "random":
            raise InputError("random label flipping has no attack target, so no ASR test set")
        if self.mode == "all-to-all":
            return np.ones(len(y), dtype=bool)
        if self.mode == "targeted":
            return np.asarray(y == self.source_class)
        return np.asarray(y != self.target_class)

    def wanted(self, y: Labels) -> Labels:
        """The label the attacker wants for each of ``y`` (true labels)."""
        if self.mode == "all-to-all":
            return ((y + 1) % self.num_classes).astype(np.int64)
        if self.target_class is None:
            raise InputError("random label flipping has no attack target")
        return np.full(len(y), self.target_class, dtype=np.int64)


class Poisoner(ABC):
    """Base of all poisoning attacks; ``poison(x, y, seed=...)`` returns :class:`PoisonedData`."""

    name: ClassVar[str]
    rate: float

    @abstractmethod
    def _candidates(self, y: Labels, num_classes: int) -> npt.NDArray[np.intp]:
        """Indices the attack may poison (also validates the class hyper-parameters)."""

    @abstractmethod
    def _apply(
        self, x: Array, y: Labels, idx: npt.NDArray[np.intp], num_classes: int, seed: int
    ) -> tuple[Array, Labels]:
        """Poisoned copies of ``x`` and ``y`` where only the samples ``idx`` changed."""

    @abstractmethod
    def spec(self, sample_shape: tuple[int, ...], num_classes: int) -> AttackSpec:
        """The test-time goal for samples of ``sample_shape`` (default trigger resolved)."""

    def _pool(self, num_classes: int) -> str:
        """What the candidates are, for error messages (e.g. 'samples of target class 0')."""
        return "eligible samples"

    def _cover(
        self, y: Labels, payload: npt.NDArray[np.intp], num_classes: int, rng: np.random.Generator
    ) -> npt.NDArray[np.intp]:
        """Cover samples to trigger but keep correctly labelled (none unless overridden);
        ``rng`` is seeded from the poison seed as an independent stream."""
        return np.empty(0, dtype=np.intp)

    def _apply_cover(self, x: Array, idx: npt.NDArray[np.intp], seed: int) -> Array:
        """``x`` with the cover samples ``idx`` triggered (a subclass with cover writes it)."""
        if len(idx):
            raise NotImplementedError(
                f"{type(self).__name__} draws cover samples but cannot apply them"
            )
        return x

    def params(self) -> dict[str, Any]:
        """JSON-friendly hyper-parameters for reports (the trigger is kept separately)."""
        return {k: v for k, v in vars(self).items() if not k.startswith("_") and k != "trigger"}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_"))
        return f"{type(self).__name__}({args})"

    def poison(
        self, x: Any, y: Any, *, seed: int = 0, num_classes: int | None = None
    ) -> PoisonedData:
        """Poison a seeded ``round(rate * n)`` samples of ``(x, y)`` (plus any cover samples,
        drawn from the rest); inputs are not modified.

        ``num_classes`` defaults to ``max(y) + 1``; pass it when a class is absent.
        """
        xa, ya = validate_arrays(x, y, source=self.name, num_classes=num_classes)
        k = int(ya.max()) + 1 if num_classes is None else num_classes
        count = poisoned_count(self.rate, len(ya), self.name)
        pool = self._candidates(ya, k)
        if count > len(pool):
            raise InputError(
                f"{self.name}: rate {self.rate:g} poisons {count} of {len(ya)} samples but "
                f"there are only {len(pool)} {self._pool(k)}"
            )
        rng = np.random.default_rng(seed)
        idx = np.sort(rng.choice(pool, size=count, replace=False))
        x_p, y_p = self._apply(xa, ya, idx, k, seed)
        cover_idx = np.sort(self._cover(ya, idx, k, np.random.default_rng([seed, 2])))
        x_p = self._apply_cover(x_p, cover_idx, seed)
        mask = np.zeros(len(ya), dtype=bool)
        mask[idx] = True
        cover = np.zeros(len(ya), dtype=bool)
        cover[cover_idx] = True
        spec = self.spec(xa.shape[1:], k)
        extra = {
            "mode": spec.mode,
            "num_classes": k,
            "seed": seed,
            "source_class": spec.source_class,
        }
        return PoisonedData(
            data=Dataset(x_p, y_p, f"poisoned:{self.name}[rate={self.rate:g}]"),
            mask=mask,
            original_labels=ya.copy(),
            attack=self.name,
            rate=float(self.rate),
            target_class=spec.target_class,
            trigger=spec.trigger,
            params={**self.params(), **extra},
            cover=cover if cover.any() else None,
        )
