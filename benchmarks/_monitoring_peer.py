"""Peer worker for the monitoring benchmarks, run inside a peer's own venv (never imports
redline): NannyML's CBPE (``/tmp/venv-nannyml``) and Alibi Detect's online detectors
(``/tmp/venv-alibi``). Arrays come in as one ``.npz``, results go out as JSON.

    python _monitoring_peer.py cbpe IN.npz OUT.json
        IN: ref_probs (n, k), ref_y (n,), probs_<i>, y_<i> for each window i, count
        OUT: {"versions": ..., "windows": [{"estimate", "low", "high", "realised"}, ...]}
    python _monitoring_peer.py seq IN.npz OUT.json
        IN: detector ("mmd" | "cvm"), ert, window, n_bootstraps, runs, seeds (fits,) and
            per fit i: reference_i (n, d), null_i (m, d) (a pool of no-drift rows consumed
            run after run), shifted_i (r, L, d) (streams to feed from a fresh state)
        OUT: {"versions", "fits": [{"configure_s", "update_us", "run_lengths", "alarms"}]}
        (an alarm is the 1-based time of a shifted stream's first detection, or null)
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path

import numpy as np

os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")
os.environ.setdefault("NUMBA_NUM_THREADS", "1")


def _versions(names: tuple[str, ...]) -> str:
    return ", ".join(f"{n} {metadata.version(n)}" for n in names)


def cbpe(data: np.lib.npyio.NpzFile) -> dict[str, object]:
    """NannyML CBPE (multiclass accuracy, isotonic calibration on the reference), one
    estimate per window: the estimator is fitted once with ``chunk_number=1`` so each
    window is one chunk whatever its size."""
    import nannyml as nml
    import pandas as pd

    def frame(probs: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        df = pd.DataFrame({f"p{k}": probs[:, k] for k in range(probs.shape[1])})
        df["y_pred"], df["y_true"] = probs.argmax(axis=1), y
        return df

    ref_probs, ref_y = data["ref_probs"], data["ref_y"]
    k = ref_probs.shape[1]
    est = nml.CBPE(
        metrics=["accuracy"], y_pred_proba={c: f"p{c}" for c in range(k)}, y_pred="y_pred",
        y_true="y_true", problem_type="classification_multiclass", chunk_number=1,
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        est.fit(frame(ref_probs, ref_y))
        fit_s = time.perf_counter() - t0
        out = []
        for i in range(int(data["count"])):
            df = est.estimate(frame(data[f"probs_{i}"], data[f"y_{i}"])).filter(period="analysis")
            row = df.to_df().iloc[0]
            out.append({
                "estimate": float(row[("accuracy", "value")]),
                "low": float(row[("accuracy", "lower_confidence_boundary")]),
                "high": float(row[("accuracy", "upper_confidence_boundary")]),
                "realised": float(row[("accuracy", "realized")]),
            })  # fmt: skip
    return {"versions": _versions(("nannyml", "pandas", "scikit-learn")), "fit_s": fit_s,
            "windows": out}  # fmt: skip


def _detector(data: np.lib.npyio.NpzFile, i: int) -> tuple[object, float]:
    """Fit ``i``'s alibi online detector, seeded (numpy for CVM, torch for MMD), and its
    configuration time (the threshold simulation)."""
    import torch
    from alibi_detect.cd import CVMDriftOnline, MMDDriftOnline

    torch.set_num_threads(1)
    seed = int(data["seeds"][i])
    np.random.seed(seed)
    torch.manual_seed(seed)
    ref = data[f"reference_{i}"].astype(np.float32)
    ert, window, boots = float(data["ert"]), int(data["window"]), int(data["n_bootstraps"])
    t0 = time.perf_counter()
    if str(data["detector"]) == "mmd":
        det: object = MMDDriftOnline(
            ref, ert=ert, window_size=window, backend="pytorch", n_bootstraps=boots,
            device="cpu", verbose=False,
        )  # fmt: skip
    else:
        det = CVMDriftOnline(ref, ert=ert, window_sizes=[window], n_bootstraps=boots, verbose=False)
    return det, time.perf_counter() - t0


def _alarm(det: object, x: np.ndarray) -> bool:
    return bool(det.predict(x, return_test_stat=False)["data"]["is_drift"])  # type: ignore[attr-defined]


def _run_lengths(det: object, pool: np.ndarray, runs: int) -> tuple[list[int], int]:
    """Run lengths on the null pool, each run from a fresh state and continuing where
    the last one stopped; and the number of updates."""
    lengths, used = [], 0
    for _ in range(runs):
        det.reset_state()  # type: ignore[attr-defined]
        t = 0
        while True:
            if used >= len(pool):
                raise SystemExit("the null pool ran out: pass a larger one")
            t, used = t + 1, used + 1
            if _alarm(det, pool[used - 1]):
                break
        lengths.append(t)
    return lengths, used


def _first_alarm(det: object, rows: np.ndarray) -> int | None:
    """Feed rows one by one from a fresh state; the 1-based time of the first alarm."""
    det.reset_state()  # type: ignore[attr-defined]
    for t, x in enumerate(rows, start=1):
        if _alarm(det, x):
            return t
    return None


def seq(data: np.lib.npyio.NpzFile) -> dict[str, object]:
    """Per fit: configure, run lengths on its null pool, first alarms of its shifted
    streams."""
    fits = []
    for i in range(len(data["seeds"])):
        det, configure_s = _detector(data, i)
        t0 = time.perf_counter()
        lengths, updates = _run_lengths(
            det, data[f"null_{i}"].astype(np.float32), int(data["runs"])
        )
        update_us = 1e6 * (time.perf_counter() - t0) / max(updates, 1)
        alarms = [_first_alarm(det, s) for s in data[f"shifted_{i}"].astype(np.float32)]
        fits.append({"configure_s": configure_s, "update_us": update_us,
                     "run_lengths": lengths, "alarms": alarms})  # fmt: skip
        print(f"alibi {data['detector']} fit {i + 1} done", file=sys.stderr)
    return {"versions": _versions(("alibi-detect", "torch", "numpy")), "fits": fits}


def main() -> None:
    """``MODE IN.npz OUT.json``."""
    mode, src, dst = sys.argv[1:4]
    data = np.load(src, allow_pickle=False)
    result = cbpe(data) if mode == "cbpe" else seq(data)
    Path(dst).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
