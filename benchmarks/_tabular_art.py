"""ART on the tabular benchmark's models, in the same schema space as redline.

ART knows no schema, so each attack sees the model through a ``BlackBoxClassifier`` on
``x / scale`` (the ``SchemaSpace`` scaling: an L-inf ball of radius eps there is eps of
every budget) with the schema's bounds as clip values. Its examples are then judged by
the benchmark: in budget (L-inf <= eps there), fooling the model, and valid under the
schema (the rules that judge redline's examples).
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from redline.attacks import SchemaSpace

__all__ = ["ArtRun", "ArtSettings", "art_decision_tree", "art_hsj", "art_zoo", "judge"]

Floats = npt.NDArray[np.float64]
ZOO_LR, ZOO_CONST, ZOO_H = 0.01, 100.0, 0.01
"""ZOO's step, initial constant and finite-difference step, in the schema space (1 = a
whole budget): the best of a small grid (lr 0.01 / 0.1, c 1 / 100, h 1e-4 / 1e-2) on
the logistic regressions."""


@dataclass(frozen=True)
class ArtSettings:
    """ART's budgets: HopSkipJump iterations and ZOO's queries per sample; ``seed`` seeds
    numpy's global generator (ART draws from it) before each attack."""

    hsj_iter: int
    zoo_queries: int
    seed: int = 0
    zoo_search_steps: int = 3


@dataclass(frozen=True)
class ArtRun:
    """One ART attack's examples (schema space, float32), its time and mean queries."""

    name: str
    z_adv: npt.NDArray[np.float32]
    seconds: float
    queries: float


@dataclass(frozen=True)
class Judged:
    """Robust accuracy of an ART attack at one eps, counted two ways, and its violations."""

    raw: float
    valid: float
    violating: int


class _Box:
    """The model as ART queries it: schema-space rows in, probabilities (or one-hot labels)
    out, every row counted."""

    def __init__(self, space: SchemaSpace, labels_only: bool) -> None:
        self.space, self.labels_only, self.rows = space, labels_only, 0

    def __call__(self, z: np.ndarray) -> np.ndarray:
        self.rows += len(z)
        with torch.no_grad():
            logits = self.space.logits(torch.as_tensor(np.asarray(z, np.float32)))
        if self.labels_only:
            hot: np.ndarray = np.eye(logits.shape[1], dtype=np.float32)[logits.argmax(1).numpy()]
            return hot
        return torch.softmax(logits.double(), dim=1).numpy()


def clip_box(space: SchemaSpace, z_ref: np.ndarray) -> tuple[Floats, Floats]:
    """Per-feature clip values in schema space: the schema's bounds where finite, else the
    reference data's range widened by one budget (the threat never goes further)."""
    scale = space.schema.scale()
    lo, hi = space.schema.low / scale, space.schema.high / scale
    lo = np.where(np.isfinite(lo), lo, z_ref.min(axis=0) - 1.0)
    hi = np.where(np.isfinite(hi), hi, z_ref.max(axis=0) + 1.0)
    return lo.astype(np.float32), hi.astype(np.float32)


def _classifier(space: SchemaSpace, box: _Box, clip: tuple[Floats, Floats] | None) -> Any:
    """A BlackBoxClassifier that answers every row of a predict call at once: ART's ZOO
    asks for feature vectors one row per call, and per-call overhead (about 1 ms for a
    scikit-learn pipeline) would otherwise be most of its time. Only time changes."""
    from art.estimators.classification import BlackBoxClassifier

    class Batched(BlackBoxClassifier):  # type: ignore[misc]
        def predict(self, x: np.ndarray, batch_size: int = 128, **kwargs: Any) -> np.ndarray:
            out: np.ndarray = super().predict(x, batch_size=max(batch_size, len(x)), **kwargs)
            return out

    return Batched(box, (space.schema.n_features,), 2, clip_values=clip)


def _timed(
    name: str, box: _Box, n: int, generate: Callable[[], np.ndarray], seed: int = 0
) -> ArtRun:
    np.random.seed(seed)  # ART's attacks draw from numpy's global generator
    t0 = time.perf_counter()
    adv = generate()
    seconds = time.perf_counter() - t0
    return ArtRun(name, np.asarray(adv, np.float32), seconds, box.rows / max(1, n))


def art_hsj(
    space: SchemaSpace,
    z: np.ndarray,
    clip: tuple[Floats, Floats],
    s: ArtSettings,
    masked: bool = False,
) -> ArtRun:
    """ART HopSkipJump, label-only, L-inf, untargeted (redline's HSJ evals per step);
    ``masked``: with ART's ``mask`` keeping the schema's immutable features fixed, the one
    schema rule ART can express."""
    from art.attacks.evasion import HopSkipJump

    box = _Box(space, labels_only=True)
    attack = HopSkipJump(
        _classifier(space, box, clip), targeted=False, norm=np.inf, max_iter=s.hsj_iter,
        max_eval=1000, init_eval=100, verbose=False,
    )  # fmt: skip
    if not masked:
        return _timed("ART HSJ", box, len(z), lambda: attack.generate(z), s.seed)
    mask = np.broadcast_to(space.schema.mutable.astype(np.float32), z.shape)
    return _timed("ART HSJ+mask", box, len(z), lambda: attack.generate(z, mask=mask), s.seed)


def art_zoo(space: SchemaSpace, z: np.ndarray, s: ArtSettings) -> ArtRun:
    """ART ZOO (score-based, coordinate-wise finite differences on every feature); its
    iterations sized so a sample spends about ``zoo_queries`` rows. No clip values: ART
    1.20's ZOO clips its *perturbation* to them (not the point), which breaks it outside
    [0, 1]; an example out of bounds then counts as a violation."""
    from art.attacks.evasion import ZooAttack

    d = space.schema.n_features
    iters = max(1, s.zoo_queries // (s.zoo_search_steps * (2 * d + 1)))
    box = _Box(space, labels_only=False)
    attack = ZooAttack(
        _classifier(space, box, None), targeted=False, learning_rate=ZOO_LR,
        max_iter=iters, binary_search_steps=s.zoo_search_steps, initial_const=ZOO_CONST,
        abort_early=True, use_resize=False, use_importance=False, nb_parallel=d,
        batch_size=1, variable_h=ZOO_H, verbose=False,
    )  # fmt: skip
    return _timed("ART ZOO", box, len(z), lambda: attack.generate(z), s.seed)


def art_decision_tree(
    space: SchemaSpace, model: Any, z: np.ndarray, clip: tuple[Floats, Floats]
) -> ArtRun:
    """ART DecisionTreeAttack on a copy of the fitted tree with its thresholds moved into
    schema space (the same splits: a tree is invariant to per-feature scaling)."""
    from art.attacks.evasion import DecisionTreeAttack
    from art.estimators.classification.scikitlearn import ScikitlearnDecisionTreeClassifier

    scaled = copy.deepcopy(model)
    tree, scale = scaled.tree_, space.schema.scale()
    split = tree.feature >= 0
    tree.threshold[split] = tree.threshold[split] / scale[tree.feature[split]]
    z64 = z.astype(np.float64)
    if not np.array_equal(scaled.predict(z64), model.predict(z64 * scale)):
        raise AssertionError("the rescaled tree does not classify as the original")
    clf = ScikitlearnDecisionTreeClassifier(scaled, clip_values=clip)
    box = _Box(space, labels_only=True)  # the attack reads the tree, it sends no queries
    attack = DecisionTreeAttack(clf, offset=1e-3, verbose=False)
    return _timed("ART DecisionTree", box, len(z), lambda: attack.generate(z))


def judge(
    space: SchemaSpace,
    z: np.ndarray,
    y: np.ndarray,
    correct: np.ndarray,
    run: ArtRun,
    eps: float,
) -> Judged:
    """Robust accuracy over all ``len(y)`` samples (``run`` attacked the ``correct`` ones):
    raw counts every fooling example within L-inf eps, valid only those that also satisfy
    the schema at eps; ``violating`` counts the raw ones that break the schema."""
    z0 = z[correct]
    with torch.no_grad():
        pred = space.predict(torch.as_tensor(run.z_adv)).numpy()
    fooled = pred != y[correct]
    in_budget = np.abs(run.z_adv.astype(np.float64) - z0).max(axis=1) <= eps * (1 + 1e-6)
    x0 = space.from_space(torch.as_tensor(z0)).double().numpy()
    xa = space.from_space(torch.as_tensor(run.z_adv)).double().numpy()
    breaks = space.schema.violations(x0, xa, scale=eps) > 0
    n, standing = len(y), int(correct.sum())
    raw = (standing - int((fooled & in_budget).sum())) / n
    valid = (standing - int((fooled & ~breaks).sum())) / n
    return Judged(raw, valid, int((fooled & in_budget & breaks).sum()))
