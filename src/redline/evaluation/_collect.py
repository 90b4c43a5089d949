"""Per-sample bookkeeping across streamed batches, turned into result models at the end."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import torch

from redline.evaluation._suite import AttackRun
from redline.results import (
    AttackStats,
    CleanResult,
    CurvePoint,
    EpsResult,
    Example,
    MinimalPerturbation,
    Samples,
)
from redline.results.metrics import accuracy, ece, group_accuracies, reliability

__all__ = ["BatchRecord", "Collector"]

MINIMAL = "fmn"


@dataclass
class BatchRecord:
    """What one batch contributes: clean and per-eps predictions, breakers, distances."""

    label: npt.NDArray[np.int64]
    clean_pred: npt.NDArray[np.int64]
    clean_conf: npt.NDArray[np.float32]
    adv_pred: list[npt.NDArray[np.int64]]
    adv_conf: list[npt.NDArray[np.float32]]
    broken_by: list[list[str | None]]
    min_distance: npt.NDArray[np.float64] | None
    violations: list[int]
    runs: list[list[AttackRun]]
    examples: list[Example] = field(default_factory=list)
    minimal_cost: tuple[int, int, float] = (0, 0, 0.0)


def softmax_stats(logits: torch.Tensor) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """Predicted labels and their softmax confidence, on the CPU."""
    probs = torch.softmax(logits.float(), dim=1)
    conf, pred = probs.max(dim=1)
    return pred.cpu().numpy().astype(np.int64), conf.cpu().numpy().astype(np.float32)


class Collector:
    """Accumulates :class:`BatchRecord` objects; memory grows with the data size only by
    a few numbers per sample, never by inputs."""

    def __init__(self, eps: tuple[float, ...], max_examples: int) -> None:
        self.eps = eps
        self.max_examples = max_examples
        self.records: list[BatchRecord] = []

    def add(self, record: BatchRecord) -> None:
        """Store one batch's outcome."""
        self.records.append(record)

    def examples_wanted(self, k: int) -> int:
        """How many more examples are still wanted at eps index ``k``."""
        have = sum(1 for r in self.records for e in r.examples if e.eps == self.eps[k])
        return max(0, self.max_examples - have)

    def _cat(self, name: str) -> npt.NDArray[np.generic]:
        return np.concatenate([getattr(r, name) for r in self.records])

    def _cat_k(self, name: str, k: int) -> npt.NDArray[np.generic]:
        return np.concatenate([getattr(r, name)[k] for r in self.records])

    def broken_by(self, k: int) -> list[str | None]:
        """The attack that broke each sample at eps index ``k`` (None = still standing)."""
        return [b for r in self.records for b in r.broken_by[k]]

    @property
    def labels(self) -> npt.NDArray[np.int64]:
        """True labels in data order."""
        return self._cat("label").astype(np.int64)

    @property
    def clean_correct(self) -> npt.NDArray[np.bool_]:
        """Mask of correctly classified samples."""
        return np.asarray(self._cat("clean_pred") == self.labels)

    def robust_mask(self, k: int) -> npt.NDArray[np.bool_]:
        """Mask of samples correctly classified and unbroken at eps index ``k``."""
        return np.asarray(self._cat_k("adv_pred", k) == self.labels)

    def clean_result(
        self, groups: npt.NDArray[np.str_] | None, class_names: dict[str, str]
    ) -> CleanResult:
        """Clean accuracy, calibration, per class and per slice."""
        correct, conf = self.clean_correct, self._cat("clean_conf").astype(np.float64)
        return CleanResult(
            accuracy=accuracy(correct),
            ece=ece(conf, correct),
            reliability=reliability(conf, correct),
            per_class=group_accuracies(correct, self.labels, class_names),
            per_slice=[] if groups is None else group_accuracies(correct, groups),
        )

    def eps_result(
        self, k: int, groups: npt.NDArray[np.str_] | None, class_names: dict[str, str]
    ) -> EpsResult:
        """Robust accuracy and everything around it at eps index ``k``."""
        robust = self.robust_mask(k)
        conf = self._cat_k("adv_conf", k).astype(np.float64)
        n_clean = int(self.clean_correct.sum())
        counts: dict[str, int] = defaultdict(int)
        for name in self.broken_by(k):
            if name is not None:
                counts[name] += 1
        broken = sum(counts.values())
        return EpsResult(
            eps=self.eps[k],
            robust=accuracy(robust),
            attack_success_rate=broken / n_clean if n_clean else 0.0,
            broken_by=dict(sorted(counts.items())),
            ece=ece(conf, robust),
            reliability=reliability(conf, robust),
            per_class=group_accuracies(robust, self.labels, class_names),
            per_slice=[] if groups is None else group_accuracies(robust, groups),
            attacks=self._attack_stats(k),
        )

    def _attack_stats(self, k: int) -> list[AttackStats]:
        totals: dict[str, list[float]] = {}
        for record in self.records:
            for run in record.runs[k]:
                t = totals.setdefault(run.attack, [0, 0, 0, 0, 0, 0.0])
                for i, v in enumerate(
                    (run.attacked, run.broken, run.forward, run.backward, run.queries, run.seconds)
                ):
                    t[i] += v
        return [
            AttackStats(
                attack=name,
                attacked=int(t[0]),
                broken=int(t[1]),
                forward=int(t[2]),
                backward=int(t[3]),
                queries_mean=t[4] / t[0] if t[4] and t[0] else None,
                seconds=t[5],
            )
            for name, t in totals.items()
        ]

    def violations(self) -> int:
        """Returned examples outside the eps ball or the bounds, over all eps."""
        return sum(sum(r.violations) for r in self.records)

    def minimal_cost(self) -> tuple[int, int, float]:
        """Forward passes, backward passes and seconds of the minimum-norm attack."""
        costs = [r.minimal_cost for r in self.records]
        return (sum(c[0] for c in costs), sum(c[1] for c in costs), sum(c[2] for c in costs))

    def min_distances(self) -> npt.NDArray[np.float64] | None:
        """Per-sample minimal perturbation (0 if misclassified clean, inf if none found)."""
        if any(r.min_distance is None for r in self.records):
            return None
        return np.concatenate([r.min_distance for r in self.records if r.min_distance is not None])

    def samples(self) -> Samples:
        """Per-sample outcome for the JSON record."""
        dist = self.min_distances()
        return Samples(
            label=[int(v) for v in self.labels],
            clean_pred=[int(v) for v in self._cat("clean_pred")],
            min_distance=[]
            if dist is None
            else [float(d) if np.isfinite(d) else None for d in dist],
            broken_by=[self.broken_by(k) for k in range(len(self.eps))],
        )

    def examples(self) -> list[Example]:
        """Collected clean/adversarial pairs, in eps then data order."""
        out = [e for r in self.records for e in r.examples]
        return sorted(out, key=lambda e: (e.eps, e.index))


def minimal_summary(
    distances: npt.NDArray[np.float64],
    clean_correct: npt.NDArray[np.bool_],
    eps: tuple[float, ...],
    cost: tuple[int, int, float],
) -> MinimalPerturbation:
    """Quantiles, histogram and robust-accuracy curve from per-sample minimal perturbations."""
    attacked = distances[clean_correct]
    found = attacked[np.isfinite(attacked)]
    top = max(max(eps) * 2.0, float(np.quantile(found, 0.95)) if found.size else 0.0)
    grid = np.linspace(0.0, top, 41)
    n = distances.size
    curve = [
        CurvePoint(eps=float(e), accuracy=float((distances > e).sum() / n) if n else 0.0)
        for e in grid
    ]
    qs = {"min": 0.0, "p10": 0.1, "p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9, "max": 1.0}
    quantiles = {k: float(np.quantile(found, q)) for k, q in qs.items()} if found.size else {}
    counts, edges = np.histogram(found, bins=20) if found.size else (np.zeros(0), np.zeros(0))
    return MinimalPerturbation(
        attack=MINIMAL,
        attacked=int(attacked.size),
        found=int(found.size),
        quantiles=quantiles,
        curve=curve,
        histogram_edges=[float(e) for e in edges],
        histogram_counts=[int(c) for c in counts],
        forward=cost[0],
        backward=cost[1],
        seconds=cost[2],
    )
