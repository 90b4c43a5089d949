"""One cell of the backdoor family benchmark: a drawn trigger at a rate, poison, train,
then every training-data detector, the combined verdict, ART, Neural Cleanse and STRIP.

Positives are the payload (triggered and relabelled); cover samples (triggered, true
label kept: Adap-*'s conservatism, WaNet's noise mode) are left out of AUROC and TPR,
neither poison to find nor clean.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import torch

from benchmarks._backdoor_cell import auroc, tpr_at_fpr
from benchmarks._backdoor_data import Settings, load_split, model_factory
from benchmarks._family_draws import draw, poisoner

__all__ = ["FamilyCell", "run_family_cell"]

Record = dict[str, Any]
NAN = float("nan")


@dataclass(frozen=True)
class FamilyCell:
    """A dataset, a family ("no attack" for clean), a rate, the draw index (= seed)."""

    dataset: str
    family: str
    rate: float
    index: int
    settings: Settings
    heavy: bool = True
    """Also run ART, Neural Cleanse and STRIP."""


def _train(cell: FamilyCell, x: Any, y: Any) -> torch.nn.Module:
    from redline.zoo import train_classifier

    torch.manual_seed(cell.index)
    module = model_factory(cell.dataset)()
    s = cell.settings
    return train_classifier(module, x, y, epochs=s.train_epochs, lr=s.lr, seed=cell.index)


def _scores(rec: Record, name: str, keep: npt.NDArray[np.bool_], mask: Any, det: Any) -> None:
    rec[f"{name}.auroc"] = auroc(mask[keep], det.scores_[keep])
    rec[f"{name}.tpr5"] = tpr_at_fpr(mask[keep], det.scores_[keep])
    rec[f"{name}.suspicious"] = list(det.suspicious_classes_)
    rec[f"{name}.flag_tpr"] = float(det.flagged_[mask].mean()) if mask.any() else NAN
    rec[f"{name}.flag_fpr"] = float(det.flagged_[keep & ~mask].mean())


def _detectors(rec: Record, target: Any, x: Any, y: Any, mask: Any, keep: Any) -> None:
    from redline.poisoning.detection import DATA_DETECTORS, CombinedDetector

    fitted = {}
    for name, cls in DATA_DETECTORS.items():
        t0 = time.process_time()
        fitted[name] = cls(random_state=rec["seed"]).fit(target, x, y)
        rec[f"time.{name}"] = time.process_time() - t0
        _scores(rec, name, keep, mask, fitted[name])
    combined = CombinedDetector().merge(fitted, y)
    _scores(rec, "combined", keep, mask, combined)
    rec["combined.chosen"] = combined.chosen_.get(rec["target_class"], "")
    rec["combined.votes"] = {int(k): v for k, v in combined.votes_.items()}


def _art(rec: Record, module: Any, x: Any, y: Any, mask: Any, keep: Any) -> None:
    from benchmarks._backdoor_art import run_art

    t0 = time.process_time()
    for out in run_art(module, x, y, seed=rec["seed"]):
        scores = np.asarray(out.scores, np.float64)
        rec[f"art-{out.name}.auroc"] = auroc(mask[keep], scores[keep])
        rec[f"art-{out.name}.tpr5"] = tpr_at_fpr(mask[keep], scores[keep])
    rec["time.art"] = time.process_time() - t0


def _model_checks(rec: Record, cell: FamilyCell, target: Any, xt: Any) -> None:
    """Neural Cleanse and STRIP on the clean defender half; STRIP FAR on triggered inputs."""
    from redline.poisoning.detection import STRIP, NeuralCleanse

    d, s = load_split(cell.dataset), cell.settings
    t0 = time.process_time()
    nc = NeuralCleanse(steps=s.nc_steps, seed=cell.index).fit(target, d.x_def, d.y_def)
    rec["nc.flagged"] = list(nc.flagged_classes_)
    rec["nc.anomaly_target"] = float(nc.anomaly_index_[rec["target_class"]])
    rec["time.nc"] = time.process_time() - t0
    if xt is None:
        return
    t0 = time.process_time()
    strip = STRIP(n_overlays=s.strip_overlays, seed=cell.index).fit(target, d.x_def)
    clean_s, trig_s = strip.score(d.x_eval), strip.score(xt)
    both = np.concatenate([np.zeros(len(clean_s), bool), np.ones(len(trig_s), bool)])
    rec["strip.auroc"] = auroc(both, np.concatenate([clean_s, trig_s]))
    rec["strip.far"] = float((-trig_s >= strip.threshold_).mean())
    rec["time.strip"] = time.process_time() - t0


def _poison(cell: FamilyCell, rec: Record) -> Any:
    d = load_split(cell.dataset)
    if cell.family == "no attack":
        rec["target_class"], rec["draw"] = -1, "clean"
        return None
    dr = draw(cell.family, cell.dataset, cell.index)
    rec["target_class"], rec["draw"] = dr.target_class, dr.describe()
    pd = poisoner(dr, cell.rate, d.x_train.shape[1:]).poison(d.x_train, d.y_train, seed=cell.index)
    rec["target_share"] = pd.target_share()
    rec["n_cover"] = 0 if pd.cover is None else int(pd.cover.sum())
    return pd


def run_family_cell(cell: FamilyCell) -> Record:
    """Every measurement of one cell (plain numbers, strings and lists: picklable)."""
    from redline import TorchTarget
    from redline.poisoning import attack_success_rate, triggered_test_set

    rec: Record = {"dataset": cell.dataset, "family": cell.family, "rate": cell.rate}
    rec["seed"], start = cell.index, time.process_time()
    d, pd = load_split(cell.dataset), _poison(cell, rec)
    x, y = (d.x_train, d.y_train) if pd is None else (pd.data.x, pd.data.y)
    mask = np.zeros(len(y), bool) if pd is None else pd.mask
    keep = np.ones(len(y), bool) if pd is None or pd.cover is None else ~pd.cover
    t0 = time.process_time()
    module = _train(cell, x, y)
    rec["time.train"] = time.process_time() - t0
    target = TorchTarget(module)
    with torch.no_grad():
        pred = target.predict(torch.as_tensor(d.x_eval)).numpy()
    rec["clean_acc"] = float((pred == d.y_eval).mean())
    rec["asr"], xt = NAN, None
    if pd is not None:
        rec["asr"] = attack_success_rate(module, d.x_eval, d.y_eval, pd)
        xt = triggered_test_set(pd, d.x_eval, d.y_eval)[0]
    _detectors(rec, target, x, y, mask, keep)
    if cell.heavy:
        _art(rec, module, x, y, mask, keep)
        _model_checks(rec, cell, target, xt)
    rec["time.total"] = time.process_time() - start
    return rec
