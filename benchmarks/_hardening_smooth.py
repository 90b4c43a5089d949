"""Randomized smoothing cell: one Gaussian-augmented model per dataset, certified by
redline's ``certify_dataset`` and by ART's ``PyTorchRandomizedSmoothing`` on the same
model, samples, ``sigma``, ``n0``, ``n`` and ``alpha`` in the same process."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks._hardening_data import Cell, Data, load, loader, spec

__all__ = ["run_smoothing"]

Record = dict[str, Any]


def _art(module: nn.Module, d: Data, dataset: str) -> Any:
    """ART's smoother around the same module. ART's lower bound calls statsmodels'
    ``proportion_confint(method="beta", alpha=2 * alpha)[0]``; where statsmodels is not
    installed, the same one-sided Clopper-Pearson bound from scipy (as in
    tests/defenses/test_smoothing.py)."""
    from art.estimators.certification.randomized_smoothing import PyTorchRandomizedSmoothing

    from redline.defenses._smoothing import lower_confidence_bound

    s = spec(dataset)
    art = PyTorchRandomizedSmoothing(
        model=module,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(d.x_test.shape[1:]),
        nb_classes=d.classes,
        clip_values=d.bounds,
        sample_size=s.n0,  # ART's n0
        scale=s.sigma,
        alpha=s.alpha,
        device_type="cpu",
    )
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        art._lower_confidence_bound = lambda k, n: lower_confidence_bound(int(k), n, s.alpha)
    return art


def run_smoothing(cell: Cell) -> Record:
    """Train under N(0, sigma^2) noise (same epochs, Adam lr and batches as the other
    methods), then CERTIFY with redline and with ART; per-sample answers come back."""
    from redline.defenses import SmoothedClassifier, certify_dataset, gaussian_augment_train

    d, s = load(cell.dataset), spec(cell.dataset)
    start = time.process_time()
    torch.manual_seed(cell.seed)
    module = d.factory()
    batches = loader(d.x_train, d.y_train, s.batch, cell.seed)
    t0 = time.perf_counter()
    gaussian_augment_train(
        module, batches, sigma=s.sigma, epochs=s.epochs, lr=s.lr, seed=cell.seed, bounds=d.bounds
    )
    train_s = time.perf_counter() - t0
    module.eval()
    x, y = d.x_test[: cell.samples], d.y_test[: cell.samples]
    smoothed = SmoothedClassifier(module, s.sigma, bounds=d.bounds, batch_size=1000)
    ours = certify_dataset(smoothed, x, y, n0=s.n0, n=s.n, alpha=s.alpha, seed=cell.seed)
    art = _art(module, d, cell.dataset)
    np.random.seed(cell.seed)  # ART draws its noise from numpy's global generator
    t0 = time.perf_counter()
    art_pred, art_radius = art.certify(x, n=s.n, batch_size=1000)
    art_s = time.perf_counter() - t0
    return {
        "kind": cell.kind,
        "dataset": cell.dataset,
        "seed": cell.seed,
        "samples": len(y),
        "train_s": train_s,
        "labels": [int(v) for v in y],
        "redline_pred": list(ours.predictions),
        "redline_radius": list(ours.radii),
        "redline_s": ours.seconds,
        "redline_passes": ours.forward_passes,
        "art_pred": [int(v) for v in art_pred],
        "art_radius": [float(v) for v in art_radius],
        "art_s": art_s,
        "max_radius": ours.max_radius,
        "cpu_s": time.process_time() - start,
    }
