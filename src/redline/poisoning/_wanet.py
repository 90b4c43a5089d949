"""WaNet (Nguyen & Tran, ICLR 2021): an imperceptible warp as the trigger, with its noise
mode: cross samples warped a little differently but left with their true labels, so the
model learns the exact warp rather than "any warp"."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.poisoning._attacks import _Backdoor
from redline.poisoning._poisoner import draw_cover
from redline.poisoning._warp import WarpTrigger

__all__ = ["WaNet"]

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
Index = npt.NDArray[np.intp]


class WaNet(_Backdoor):
    """WaNet: warp samples outside the target class and relabel them to it; and warp
    ``cross_ratio`` times as many other samples (outside the payload and the target,
    as many as there are) with :meth:`WarpTrigger.noisy`, keeping their labels.
    ``trigger`` defaults to the paper's ``WarpTrigger(grid=4, strength=0.5)``.

    The paper re-draws payload and cross samples every batch; a poisoned set is drawn
    once, which makes the warp much harder to learn under the noise mode (8x8 digits,
    rate 0.1, 20 epochs: ASR 0.06-0.13 at the default, 0.94-0.98 at strength 2 with
    ``cross_ratio=0``).
    """

    name = "wanet"

    def __init__(
        self,
        *,
        rate: float,
        target_class: int = 0,
        trigger: WarpTrigger | None = None,
        cross_ratio: float = 2.0,
    ) -> None:
        self.rate = rate
        self.target_class = target_class
        self.trigger = trigger
        self.cross_ratio = cross_ratio

    def _trigger(self, sample_shape: tuple[int, ...]) -> WarpTrigger:
        if len(sample_shape) not in (2, 3):
            raise InputError(
                f"wanet: needs images (n, c, H, W) or (n, H, W), got samples of shape "
                f"{tuple(sample_shape)}"
            )
        trigger = WarpTrigger() if self.trigger is None else self.trigger
        if not isinstance(trigger, WarpTrigger):
            raise InputError(f"wanet: trigger must be a WarpTrigger, got {type(trigger).__name__}")
        return trigger

    def _cover(
        self, y: Labels, payload: Index, num_classes: int, rng: np.random.Generator
    ) -> Index:
        ratio: Any = self.cross_ratio
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio < 1e9:
            raise InputError(f"wanet: cross_ratio must be a finite number >= 0, got {ratio!r}")
        count = round(float(ratio) * len(payload))
        target = self._target(num_classes)
        return draw_cover(y, payload, count, rng, exclude=target, name=self.name, cap=True)

    def _apply_cover(self, x: Array, idx: Index, seed: int) -> Array:
        out = x.copy()
        if len(idx):
            noisy = self._trigger(x.shape[1:]).noisy(x[idx], seed)
            out[idx] = np.asarray(noisy, dtype=np.float32)
        return out
