"""Tree-ensemble attacks: exact (MILP) vs greedy robust accuracy and time, and ART.

Run from the repository root: ``python -m benchmarks.trees [--quick]``. On breast_cancer
and a generated 20-feature set (both min-max scaled to [0, 1]), XGBoost, LightGBM,
scikit-learn gradient boosting and a random forest (each <= 20 trees of depth <= 4)
are attacked in L-inf at a few eps by redline's exact ``TreeExact`` (which proves its
answer) and heuristic ``TreeGreedy``; the heuristic's gap to the exact robust accuracy
is the check (target: <= 1 point). A single decision tree adds ART's
``DecisionTreeAttack``, and every model ART's ``HopSkipJump`` (L-inf, label-only), both
read at the same eps from their examples' distances. Times are medians over
``--runs`` runs, interleaved exact / greedy per run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from benchmarks._common import (
    base_parser,
    machine_line,
    prepare_process,
    redline_revision,
    save_results,
    table,
)

__all__ = ["main"]

EPS = (0.02, 0.05, 0.1)


@dataclass(frozen=True)
class Data:
    """A train / test split in [0, 1], float32."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _datasets(seed: int, n_test: int) -> list[Data]:
    from sklearn.datasets import make_classification

    from redline.datasets import load_breast_cancer

    train, test = load_breast_cancer("train", seed=seed), load_breast_cancer("test", seed=seed)
    out = [Data("breast_cancer", train.x, train.y, test.x[:n_test], test.y[:n_test])]
    x, y = make_classification(
        n_samples=1500, n_features=20, n_informative=10, n_redundant=4, random_state=seed
    )
    x = (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0))
    x = x.astype(np.float32)
    out.append(Data("generated (20 features)", x[:1200], y[:1200], x[1200:][:n_test],
                    y[1200:][:n_test]))  # fmt: skip
    return out


def _models(seed: int) -> dict[str, Callable[[], Any]]:
    import lightgbm as lgb
    import xgboost as xgb
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    return {
        "XGBoost 20x4": lambda: xgb.XGBClassifier(n_estimators=20, max_depth=4, random_state=seed),
        "LightGBM 20x4": lambda: lgb.LGBMClassifier(
            n_estimators=20, max_depth=4, num_leaves=16, verbose=-1, random_state=seed
        ),
        "sklearn GBT 20x4": lambda: GradientBoostingClassifier(
            n_estimators=20, max_depth=4, random_state=seed
        ),
        "random forest 20x4": lambda: RandomForestClassifier(
            n_estimators=20, max_depth=4, random_state=seed
        ),
        "decision tree depth 6": lambda: DecisionTreeClassifier(max_depth=6, random_state=seed),
    }


def _robust(success: np.ndarray, dist: np.ndarray, eps: float) -> float:
    """Robust accuracy at eps from a minimum-norm attack's examples."""
    return 1.0 - float((success & (dist <= eps * (1 + 1e-6))).mean())


def _redline(target: Any, x: torch.Tensor, y: torch.Tensor, eps: float, exact: bool) -> Any:
    from redline.attacks.trees import TreeExact, TreeGreedy

    attack = TreeExact(eps=eps) if exact else TreeGreedy(eps=eps)
    t0 = time.perf_counter()
    result = attack(target, x, y)
    seconds = time.perf_counter() - t0
    proved = attack.proved if isinstance(attack, TreeExact) else None
    return result.robust_accuracy, seconds, proved


def _art_tree(model: Any, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    from art.attacks.evasion import DecisionTreeAttack
    from art.estimators.classification.scikitlearn import ScikitlearnDecisionTreeClassifier

    clf = ScikitlearnDecisionTreeClassifier(model, clip_values=(0.0, 1.0))
    t0 = time.perf_counter()
    adv = DecisionTreeAttack(clf, offset=1e-4, verbose=False).generate(x)
    seconds = time.perf_counter() - t0
    return (*_outcome(model.predict(adv), adv, x, y), seconds)


def _art_hsj(
    ensemble: Any, x: np.ndarray, y: np.ndarray, evals: int
) -> tuple[np.ndarray, np.ndarray, float]:
    from art.attacks.evasion import HopSkipJump
    from art.estimators.classification import BlackBoxClassifier

    def predict(rows: np.ndarray) -> np.ndarray:
        labels = np.argmax(ensemble.logits(rows.astype(np.float64)), axis=1)
        return np.eye(ensemble.n_classes)[labels]

    clf = BlackBoxClassifier(predict, (x.shape[1],), ensemble.n_classes, clip_values=(0.0, 1.0))
    attack = HopSkipJump(clf, norm=np.inf, max_iter=20, max_eval=evals, init_eval=50,
                         verbose=False)  # fmt: skip
    t0 = time.perf_counter()
    adv = attack.generate(x).astype(np.float32)
    seconds = time.perf_counter() - t0
    labels = np.argmax(ensemble.logits(adv.astype(np.float64)), axis=1)
    return (*_outcome(labels, adv, x, y), seconds)


def _outcome(
    labels: np.ndarray, adv: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    return labels != y, np.abs(adv - x).max(axis=1)


def _rows(data: Data, name: str, build: Callable[[], Any], args: argparse.Namespace) -> list[Any]:
    from redline.targets import TreeEnsemble, TreeTarget

    model = build().fit(data.x_train, data.y_train)
    ensemble = TreeEnsemble.from_model(model)
    target = TreeTarget(ensemble, bounds=(0.0, 1.0))
    x, y = torch.as_tensor(data.x_test), torch.as_tensor(data.y_test)
    clean = float((target.predict(x) == y).float().mean())
    peers = {}
    if "decision tree" in name:
        peers["ART DecisionTree"] = _art_tree(model, data.x_test, data.y_test)
    if not args.quick or "XGBoost" in name:
        peers["ART HSJ"] = _art_hsj(ensemble, data.x_test, data.y_test, args.hsj_evals)
    rows = []
    for eps in EPS:
        times: dict[bool, list[float]] = {True: [], False: []}
        accs: dict[bool, float] = {}
        proved = True
        for _ in range(args.runs):
            for exact in (True, False):
                acc, seconds, ok = _redline(target, x, y, eps, exact)
                accs[exact] = acc
                times[exact].append(seconds)
                proved &= ok is not False
        gap = 100 * (accs[False] - accs[True])
        peer = " / ".join(
            f"{label} {100 * _robust(s, d, eps):.1f}% ({sec:.1f} s)"
            for label, (s, d, sec) in peers.items()
        )
        rows.append([
            data.name, name, f"{100 * clean:.1f}%", eps,
            f"{100 * accs[True]:.1f}%" + ("" if proved else " (not proved)"),
            f"{statistics.median(times[True]):.2f}",
            f"{100 * accs[False]:.1f}%", f"{statistics.median(times[False]):.2f}",
            f"{gap:+.1f}", peer or "-",
        ])  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> None:
    """Print the table and write it to benchmarks/results/trees[-quick].md."""
    parser = base_parser("Tree-ensemble attacks: exact vs greedy, and ART")
    parser.add_argument("--runs", type=int, default=None, help="timed runs per cell")
    parser.add_argument("--samples", type=int, default=None, help="test samples per set")
    parser.add_argument("--hsj-evals", type=int, default=2000, help="ART HSJ max_eval")
    args = parser.parse_args(argv)
    prepare_process(args)
    args.runs = args.runs or (1 if args.quick else 3)
    samples = args.samples or (60 if args.quick else 200)
    rows = []
    for data in _datasets(args.seed, samples):
        for name, build in _models(args.seed).items():
            rows.extend(_rows(data, name, build, args))
            print(f"done: {data.name} / {name}", flush=True)
    headers = [
        "data", "model", "clean", "eps (L-inf)", "exact robust acc", "exact s",
        "greedy robust acc", "greedy s", "gap (points)", "ART at same eps (time)",
    ]  # fmt: skip
    text = "\n".join([
        "## Tree-ensemble attacks: exact (MILP, HiGHS) vs greedy cell search",
        "",
        table(headers, rows),
        "",
        f"{samples} test samples per set, times in seconds (median of {args.runs} "
        f"run(s), exact and greedy interleaved); gap = greedy minus exact robust accuracy. "
        f"ART HopSkipJump: L-inf, label-only, max_iter 20, max_eval {args.hsj_evals}; "
        "ART DecisionTreeAttack: offset 1e-4; both read at eps from their L-inf distances.",
        "",
        machine_line(args) + f" {redline_revision()}.",
    ])  # fmt: skip
    print(text)
    save_results(text, None, "trees", args.quick)


if __name__ == "__main__":
    main()
