"""pytorch-ood's side of ``benchmarks/ood.py``, run in its own venv (it never imports
redline): score the same logits and penultimate features with pytorch-ood's detectors.

Usage: ``python _ood_peer.py IN.npz OUT.npz K [K ...]``. ``IN.npz`` holds
``train_features``, ``train_labels`` and, per evaluation set ``S``, ``logits_S`` and
``features_S``. ``OUT.npz`` gets ``DETECTOR/S`` score arrays (higher = more OOD) and
``metrics/DETECTOR/S`` = pytorch-ood's own ``OODMetrics`` (AUROC, FPR95TPR) of set ``S``
against the set ``test``; stdout gets one ``DETECTOR SECONDS`` line per detector (fit
plus scoring every set).
"""

from __future__ import annotations

import importlib.util
import sys
import time
import types
from collections.abc import Callable

import numpy as np
import torch


def _load_package() -> None:
    """Register ``pytorch_ood`` without running its ``__init__``: that imports torchvision
    (datasets, models), whose only wheels here are CUDA builds that fail on CPU torch; the
    detectors and metrics never use it."""
    spec = importlib.util.find_spec("pytorch_ood")
    if spec is None or spec.submodule_search_locations is None:
        raise SystemExit("pytorch-ood is not installed in this interpreter")
    package = types.ModuleType("pytorch_ood")
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules["pytorch_ood"] = package


_load_package()
from pytorch_ood.detector import KNN, EnergyBased, Mahalanobis, MaxSoftmax  # noqa: E402
from pytorch_ood.metrics import OODMetrics  # noqa: E402

Scorer = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _scorers(z: torch.Tensor, y: torch.Tensor, ks: list[int]) -> dict[str, Callable[[], Scorer]]:
    """Each detector as a builder (timed) returning ``score(logits, features)``."""

    def maha() -> Scorer:
        fitted = Mahalanobis(None).fit_features(z, y)
        return lambda _logits, feats: fitted.predict_features(feats)

    def knn(k: int) -> Callable[[], Scorer]:
        def build() -> Scorer:
            fitted = KNN(None, k=k, normalize=True)
            fitted.knn.n_jobs = 1  # the constructor fixes -1 (every core)
            fitted.fit_features(z, y)
            return lambda _logits, feats: fitted.predict_features(feats)

        return build

    out: dict[str, Callable[[], Scorer]] = {
        "max-softmax": lambda: lambda logits, _f: MaxSoftmax(None).predict_logits(logits),
        "energy": lambda: lambda logits, _f: EnergyBased(None).predict_logits(logits),
        "mahalanobis": maha,
    }
    out.update({f"knn-{k}": knn(k) for k in ks})
    return out


def _metrics(clean: torch.Tensor, ood: torch.Tensor) -> np.ndarray:
    """pytorch-ood's AUROC and FPR95TPR (OOD labelled -1, in-distribution 0)."""
    metrics = OODMetrics()
    labels = torch.cat([torch.zeros(len(clean)), -torch.ones(len(ood))]).long()
    metrics.update(torch.cat([clean, ood]).float(), labels)
    done = metrics.compute()
    return np.array([float(done["AUROC"]), float(done["FPR95TPR"])])


def main(argv: list[str]) -> None:
    """Fit on the training features, score every set, save scores and metrics."""
    source, target, ks = argv[0], argv[1], [int(k) for k in argv[2:]]
    data = np.load(source)
    z = torch.as_tensor(data["train_features"])
    y = torch.as_tensor(data["train_labels"]).long()
    sets = [name.removeprefix("logits_") for name in data.files if name.startswith("logits_")]
    saved: dict[str, np.ndarray] = {}
    with torch.no_grad():
        for name, build in _scorers(z, y, ks).items():
            start = time.perf_counter()
            score = build()
            scores = {
                s: score(
                    torch.as_tensor(data[f"logits_{s}"]), torch.as_tensor(data[f"features_{s}"])
                )
                for s in sets
            }
            print(name, f"{time.perf_counter() - start:.4f}", flush=True)
            for s, values in scores.items():
                saved[f"{name}/{s}"] = values.double().cpu().numpy()
                if s != "test":
                    saved[f"metrics/{name}/{s}"] = _metrics(scores["test"], values)
    np.savez(target, **saved)


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(sys.argv[1:])
