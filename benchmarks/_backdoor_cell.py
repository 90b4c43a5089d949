"""One cell of the backdoor benchmark: poison, train, then every detector, STRIP, Neural
Cleanse, ART and both repairs on the same poisoned data and the same model.

The cell returns a flat dict of plain numbers, strings and lists (picklable across the
process pool); NaN marks a number that does not exist for the row (e.g. ASR of label
flipping, AUROC without poison).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from sklearn.metrics import roc_auc_score, roc_curve

from benchmarks._backdoor_data import TARGET_CLASS, Cell, Split, load_split, model_factory

__all__ = ["auroc", "run_cell", "tpr_at_fpr"]

Mask = npt.NDArray[np.bool_]
Record = dict[str, Any]
NAN = float("nan")


def auroc(mask: Mask, scores: npt.ArrayLike) -> float:
    """Area under the ROC curve of ``scores`` against ``mask``; NaN with one class only."""
    if mask.all() or not mask.any():
        return NAN
    return float(roc_auc_score(mask, np.asarray(scores, np.float64)))


def tpr_at_fpr(mask: Mask, scores: npt.ArrayLike, fpr_max: float = 0.05) -> float:
    """Highest true positive rate of a threshold whose false positive rate is <= ``fpr_max``."""
    if mask.all() or not mask.any():
        return NAN
    fpr, tpr, _ = roc_curve(mask, np.asarray(scores, np.float64))
    return float(tpr[fpr <= fpr_max].max())


def _flag_rates(mask: Mask, flags: Mask) -> tuple[float, float]:
    """(TPR, FPR) of hard flags; NaN where the denominator is empty."""
    tpr = float(flags[mask].mean()) if mask.any() else NAN
    fpr = float(flags[~mask].mean()) if (~mask).any() else NAN
    return tpr, fpr


def _score(rec: Record, name: str, mask: Mask, scores: Any, flags: Mask) -> None:
    rec[f"{name}.auroc"] = auroc(mask, scores)
    rec[f"{name}.tpr5"] = tpr_at_fpr(mask, scores)
    rec[f"{name}.flag_tpr"], rec[f"{name}.flag_fpr"] = _flag_rates(mask, flags)
    rec[f"{name}.n_flagged"] = int(flags.sum())


class _Clock:
    """CPU seconds per component (single-threaded workers: CPU time ~ wall time)."""

    def __init__(self, rec: Record) -> None:
        self.rec = rec

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        t0 = time.process_time()
        out = fn()
        self.rec[f"time.{name}"] = self.rec.get(f"time.{name}", 0.0) + time.process_time() - t0
        return out


def _poisoner(attack: str, rate: float) -> Any:
    from redline.poisoning import SIG, BadNets, Blended, LabelFlip

    makers: dict[str, Callable[[], Any]] = {
        "badnets": lambda: BadNets(rate=rate, target_class=TARGET_CLASS),
        "blended": lambda: Blended(rate=rate, target_class=TARGET_CLASS),
        "sig": lambda: SIG(rate=rate, target_class=TARGET_CLASS),
        "label-flip": lambda: LabelFlip(rate=rate, mode="random"),
    }
    return makers[attack]()


def _train(cell: Cell, x: Any, y: Any) -> torch.nn.Module:
    from redline.zoo import train_classifier

    torch.manual_seed(cell.seed)
    module = model_factory(cell.dataset)()
    s = cell.settings
    return train_classifier(module, x, y, epochs=s.train_epochs, lr=s.lr, seed=cell.seed)


def _youden(rec: Record, name: str) -> float:
    """TPR - FPR of a detector's flags (NaN-safe), to pick the flags worth retraining on."""
    j = rec[f"{name}.flag_tpr"] - rec[f"{name}.flag_fpr"]
    return -math.inf if math.isnan(j) else float(j)


def _fit_detector(cls: Any, seed: int, target: Any, x: Any, y: Any) -> Any:
    return cls(random_state=seed).fit(target, x, y)


def _data_detectors(rec: Record, clock: _Clock, target: Any, x: Any, y: Any, mask: Mask) -> Any:
    """redline's four training-data detectors; returns (name, detector) of the one whose
    flags separate best (highest TPR - FPR, then AUROC): an oracle pick for retraining."""
    from redline.poisoning.detection import DATA_DETECTORS

    fitted = {}
    for name, cls in DATA_DETECTORS.items():
        det = clock.run(name, partial(_fit_detector, cls, rec["seed"], target, x, y))
        _score(rec, name, mask, det.scores_, det.flagged_)
        rec[f"{name}.suspicious"] = list(det.suspicious_classes_)
        fitted[name] = det

    def key(name: str) -> tuple[float, float]:
        auc = rec[f"{name}.auroc"]
        return _youden(rec, name), -math.inf if math.isnan(auc) else auc

    best = max(fitted, key=key)
    return best, fitted[best]


def _art(rec: Record, module: torch.nn.Module, x: Any, y: Any, mask: Mask) -> None:
    from benchmarks._backdoor_art import run_art

    for out in run_art(module, x, y, seed=rec["seed"]):
        _score(rec, f"art-{out.name}", mask, out.scores, out.flags)
        rec[f"sec.art-{out.name}"] = out.seconds


def _model_checks(rec: Record, clock: _Clock, cell: Cell, target: Any, d: Split, xt: Any) -> None:
    """Neural Cleanse on the defender half; STRIP fitted there, scored on the eval half."""
    from redline.poisoning.detection import STRIP, NeuralCleanse

    s = cell.settings
    nc = clock.run(
        "nc", lambda: NeuralCleanse(steps=s.nc_steps, seed=cell.seed).fit(target, d.x_def, d.y_def)
    )
    rec["nc.flagged"] = list(nc.flagged_classes_)
    rec["nc.anomaly_target"] = float(nc.anomaly_index_[TARGET_CLASS])
    if xt is None:
        return
    strip = clock.run(
        "strip", lambda: STRIP(n_overlays=s.strip_overlays, seed=cell.seed).fit(target, d.x_def)
    )
    clean_s, trig_s = clock.run("strip", lambda: (strip.score(d.x_eval), strip.score(xt)))
    both = np.concatenate([np.zeros(len(clean_s), bool), np.ones(len(trig_s), bool)])
    rec["strip.auroc"] = auroc(both, np.concatenate([clean_s, trig_s]))
    rec["strip.far"] = float((-trig_s >= strip.threshold_).mean())
    rec["strip.frr"] = float((-clean_s < strip.threshold_).mean())
    with torch.no_grad():
        hit = (target.predict(torch.as_tensor(xt)) == TARGET_CLASS).numpy()
    passed = -trig_s[hit] >= strip.threshold_  # triggered inputs the backdoor hijacks
    rec["strip.far_hit"] = float(passed.mean()) if hit.any() else NAN


def _repair(
    rec: Record, clock: _Clock, cell: Cell, module: Any, pd: Any, d: Split, xt: Any, best: Any
) -> None:
    """Fine-pruning on the defender half; retraining without the best detector's flags."""
    from redline.defenses import evaluate_repair, fine_prune, retrain_without

    s = cell.settings
    trig = {} if xt is None else {"x_triggered": xt, "y_target": TARGET_CLASS}
    fp = clock.run(
        "fine_prune",
        lambda: fine_prune(
            module, d.x_def, d.y_def, finetune_epochs=s.prune_epochs, seed=cell.seed
        ),
    )
    _repair_record(rec, "fp", evaluate_repair(module, fp, d.x_eval, d.y_eval, **trig))
    if best is None:
        return
    name, det = best
    rec["rt.detector"] = name
    rec["rt.removed"] = int(det.flagged_.sum())
    if not det.flagged_.any():  # nothing removed: the "repaired" model is the original
        rec["rt.asr_before"] = rec["rt.asr_after"] = rec["fp.asr_before"]
        rec["rt.acc_drop"] = 0.0
        rec["rt.der"] = NAN if math.isnan(rec["fp.asr_before"]) else 0.5
        return
    rt = clock.run(
        "retrain",
        lambda: retrain_without(
            module, pd.data.x, pd.data.y, det.flagged_, epochs=s.retrain_epochs, lr=s.lr,
            seed=cell.seed,
        ),
    )  # fmt: skip
    _repair_record(rec, "rt", evaluate_repair(module, rt, d.x_eval, d.y_eval, **trig))


def _repair_record(rec: Record, key: str, r: Any) -> None:
    rec[f"{key}.asr_before"] = NAN if r.asr_before is None else r.asr_before
    rec[f"{key}.asr_after"] = NAN if r.asr_after is None else r.asr_after
    rec[f"{key}.acc_drop"] = r.acc_before - r.acc_after
    rec[f"{key}.der"] = NAN if r.der is None else r.der


def _poison(cell: Cell, d: Split, rec: Record) -> Any:
    """The poisoned set (None for no attack); sets ``target_share``."""
    if cell.attack == "no attack":
        rec["target_share"] = NAN
        return None
    pd = _poisoner(cell.attack, cell.rate).poison(d.x_train, d.y_train, seed=cell.seed)
    share = pd.target_share()
    rec["target_share"] = NAN if share is None else share
    return pd


def run_cell(cell: Cell) -> Record:
    """Every measurement of one cell; ``error`` set (and nothing else) if poisoning fails."""
    from redline import TorchTarget
    from redline.errors import InputError
    from redline.poisoning import attack_success_rate, triggered_test_set

    rec: Record = {"dataset": cell.dataset, "attack": cell.attack, "rate": cell.rate}
    rec["seed"] = cell.seed
    start = time.process_time()
    d, clock = load_split(cell.dataset), _Clock(rec)
    try:
        pd = _poison(cell, d, rec)
    except InputError as exc:
        return rec | {"error": str(exc)}
    x, y = (d.x_train, d.y_train) if pd is None else (pd.data.x, pd.data.y)
    mask = np.zeros(len(y), bool) if pd is None else pd.mask
    module = clock.run("train", lambda: _train(cell, x, y))
    target = TorchTarget(module)
    with torch.no_grad():
        pred = target.predict(torch.as_tensor(d.x_eval)).numpy()
    rec["clean_acc"] = float((pred == d.y_eval).mean())
    rec["asr"], xt = NAN, None
    if pd is not None and pd.trigger is not None:
        rec["asr"] = attack_success_rate(module, d.x_eval, d.y_eval, pd)
        xt = triggered_test_set(pd, d.x_eval, d.y_eval)[0]
    best = _data_detectors(rec, clock, target, x, y, mask)
    clock.run("art", lambda: _art(rec, module, x, y, mask))
    if cell.attack != "label-flip":
        _model_checks(rec, clock, cell, target, d, xt)
    _repair(rec, clock, cell, module, pd, d, xt, best if pd is not None else None)
    rec["time.total"] = time.process_time() - start
    return rec
