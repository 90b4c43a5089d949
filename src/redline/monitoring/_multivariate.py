"""Multivariate two-sample tests on the profiles' row samples: MMD with an RBF kernel and
a permutation test (torch), and a classifier two-sample test (can a classifier tell the
windows apart out of fold?). Both see joint changes no per-feature test can."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

__all__ = ["MultiOutcome", "classifier_test", "mmd_test", "standardise"]

Floats = npt.NDArray[np.float64]
MMD_ROWS = 1000
"""Rows per window in the MMD (its kernel matrix is quadratic)."""


@dataclass(frozen=True)
class MultiOutcome:
    """Statistic, p-value and effect size of a multivariate test."""

    test: str
    statistic: float
    p_value: float
    effect: float


def standardise(ref: Floats, cur: Floats) -> tuple[Floats, Floats]:
    """Both samples in the reference's standard units; missing values at the mean (0)."""
    mean = np.nanmean(ref, axis=0) if len(ref) else np.zeros(ref.shape[1])
    std = np.nanstd(ref, axis=0) if len(ref) else np.ones(ref.shape[1])
    std = np.where(np.isfinite(std) & (std > 0), std, 1.0)
    mean = np.where(np.isfinite(mean), mean, 0.0)
    a, b = (ref - mean) / std, (cur - mean) / std
    return np.nan_to_num(a, nan=0.0), np.nan_to_num(b, nan=0.0)


def _permuted_mmd2(k: torch.Tensor, members: torch.Tensor) -> torch.Tensor:
    """Unbiased MMD^2 for each row of ``members`` (P, N: 1 marks the first sample), all
    at once from the kernel matrix (its diagonal is 1): one matrix product, no copies."""
    n = members.sum(dim=1)
    m = k.shape[0] - n
    row = k.sum(dim=1)
    ka = members @ k  # (P, N)
    aka = (ka * members).sum(dim=1)
    akb = members @ row - aka
    bkb = row.sum() - 2 * (members @ row) + aka
    return (aka - n) / (n * (n - 1)) + (bkb - m) / (m * (m - 1)) - 2 * akb / (n * m)


def mmd_test(
    ref: Floats, cur: Floats, *, permutations: int = 500, seed: int = 0
) -> MultiOutcome | None:
    """MMD^2 with an RBF kernel of median-heuristic bandwidth; p-value by permuting the
    window labels (``(1 + hits) / (1 + permutations)``). None with too few rows."""
    rng = np.random.default_rng(seed)
    a = ref[rng.permutation(len(ref))[:MMD_ROWS]]
    b = cur[rng.permutation(len(cur))[:MMD_ROWS]]
    if len(a) < 10 or len(b) < 10 or a.shape[1] == 0:
        return None
    z = torch.as_tensor(np.concatenate([a, b]), dtype=torch.float64)
    d2 = torch.cdist(z, z).pow(2)
    positive = d2[d2 > 0]
    bandwidth = float(positive.median()) if positive.numel() else 1.0
    k = torch.exp(-d2 / bandwidth)
    first = torch.zeros(1, len(z), dtype=torch.float64)
    first[0, : len(a)] = 1.0
    observed = float(_permuted_mmd2(k, first)[0])
    gen = torch.Generator().manual_seed(seed)
    orders = torch.argsort(torch.rand(permutations, len(z), generator=gen), dim=1)
    members = (orders < len(a)).to(torch.float64)
    null = _permuted_mmd2(k, members)
    hits = int((null >= observed).sum())
    return MultiOutcome("mmd", observed, (1 + hits) / (1 + permutations), max(0.0, observed))


def classifier_test(
    ref: Floats, cur: Floats, *, folds: int = 5, seed: int = 0
) -> MultiOutcome | None:
    """A gradient-boosted classifier learns to tell the windows apart; its out-of-fold
    AUC is the statistic, the one-sided Mann-Whitney p-value of current rows scoring
    above reference rows the p-value, and AUC - 0.5 the effect. None with too few rows."""
    from scipy.stats import mannwhitneyu
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if min(len(ref), len(cur)) < 4 * folds or ref.shape[1] == 0:
        return None
    x = np.concatenate([ref, cur])
    y = np.r_[np.zeros(len(ref)), np.ones(len(cur))]
    model = HistGradientBoostingClassifier(
        max_iter=40, max_leaf_nodes=15, learning_rate=0.2, random_state=seed
    )
    split = StratifiedKFold(folds, shuffle=True, random_state=seed)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # OpenMP threads on a busy machine: 30x slower, seen here
        scores = cross_val_predict(model, x, y, cv=split, method="predict_proba")[:, 1]
    auc = float(roc_auc_score(y, scores))
    p = float(mannwhitneyu(scores[y == 1], scores[y == 0], alternative="greater").pvalue)
    return MultiOutcome("c2st", auc, p, auc - 0.5)
