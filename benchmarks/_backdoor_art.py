"""The peer: ART 1.20's ``SpectralSignatureDefense`` and ``ActivationDefence`` on the same
poisoned training set and the same trained model as redline's detectors.

Both are run as shipped (defaults, ``detect_poison()``), on the layer ART picks itself:
``layer_names[-1]`` of the wrapped ``nn.Sequential``, i.e. the logits. A second run
hands ART the same model without its last layer (same weights), so ART
sees the last hidden layer that Tran et al. and Chen et al. use.

Scores: ``detect_poison`` reports a score only for the samples it flags, so the
spectral AUROC uses ART's own ``SpectralSignatureDefense.spectral_signature_scores``
applied class by class to the activations ART's ``detect_poison`` reads (same layer,
same batch size): exactly the numbers it thresholds. ActivationDefence exposes no
per-sample score: its cluster verdict (1 = poison, 0 = clean) is the score, so its
AUROC is (TPR + 1 - FPR) / 2 of its flags.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from torch import nn

__all__ = ["ArtOutcome", "run_art"]

Array = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class ArtOutcome:
    """Per-sample scores (higher = more suspicious) and 0/1 flags of one ART defence."""

    name: str
    scores: npt.NDArray[np.float64]
    flags: npt.NDArray[np.bool_]
    seconds: float


def _classifier(module: nn.Module, x: Array, classes: int) -> Any:
    from art.estimators.classification import PyTorchClassifier

    return PyTorchClassifier(
        model=module,
        loss=nn.CrossEntropyLoss(),
        input_shape=tuple(x.shape[1:]),
        nb_classes=classes,
        clip_values=(0.0, 1.0),
        device_type="cpu",
    )


def _spectral(clf: Any, x: Array, y: Labels, onehot: Array) -> tuple[npt.NDArray[np.float64], Any]:
    """ART's flags (``detect_poison``) and ART's score for every sample."""
    from art.defences.detector.poison import SpectralSignatureDefense

    defence = SpectralSignatureDefense(clf, x, onehot)
    _, is_clean = defence.detect_poison()
    layers = len(clf.layer_names)
    feats = clf.get_activations(x, layer=layers - 1, batch_size=defence.batch_size)
    feats = np.reshape(feats, (len(x), -1))
    scores = np.zeros(len(y))
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        scores[rows] = SpectralSignatureDefense.spectral_signature_scores(feats[rows])[:, 0]
    return scores, is_clean


def _clustering(clf: Any, x: Array, onehot: Array) -> Any:
    from art.defences.detector.poison import ActivationDefence

    return ActivationDefence(clf, x, onehot).detect_poison()[1]


def run_art(module: nn.Module, x: Array, y: Labels, *, seed: int) -> list[ArtOutcome]:
    """Spectral signatures and activation clustering, on the logits (as shipped) and on
    the last hidden layer; ART's MiniBatchKMeans draws from numpy's global RNG (seeded)."""
    import time

    y_onehot = np.eye(int(y.max()) + 1, dtype=np.float32)[y]
    out: list[ArtOutcome] = []
    logging.getLogger("art").setLevel(logging.ERROR)
    hidden = nn.Sequential(*list(module.children())[:-1])  # same weights, logits layer cut
    for where, model in (("logits", module), ("hidden", hidden)):
        clf = _classifier(model, x, y_onehot.shape[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.process_time()
            scores, clean = _spectral(clf, x, y, y_onehot)
            t1 = time.process_time()
            np.random.seed(seed)
            clean_ac = _clustering(clf, x, y_onehot)
            t2 = time.process_time()
        out.append(ArtOutcome(f"ss-{where}", scores, np.asarray(clean) == 0, t1 - t0))
        flags = np.asarray(clean_ac) == 0
        out.append(ArtOutcome(f"ac-{where}", flags.astype(np.float64), flags, t2 - t1))
    return out
