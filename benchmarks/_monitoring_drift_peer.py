"""Peer worker of the drift benchmark, run inside a peer's own venv (never imports
redline): Evidently's DataDriftPreset (``/tmp/venv-evidently``) or Alibi Detect's
TabularDrift (``/tmp/venv-alibi``) on windows it draws itself with
``benchmarks/_monitoring_data.py`` from the seeds it is given (the digests it returns
let the caller check that both sides saw the same rows).

    python _monitoring_drift_peer.py evidently|alibi SPEC.json OUT.json

SPEC: ``{"numeric", "categorical", "trials": [{"ref": [rows, seed], "cur": [rows, seed],
"shift": {...}, "chunk": rows or null}, ...], "check": k}`` (``chunk`` set: the window
is drawn chunk by chunk, ``_monitoring_data.draw_large``; ``check``: on the first k
trials Evidently's legacy and new-API presets run beside its ``DataDriftTable`` and must
flag the same columns). OUT: ``{"versions", "trials": [{"digests", "seconds", "flagged",
...}]}``, one line of progress per 50 trials on stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("DO_NOT_TRACK", "1")  # Evidently's telemetry off
os.environ.setdefault("NUMBA_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import _monitoring_data as data

P_VAL = 0.05
"""Alibi Detect's default significance level."""


def _versions(names: tuple[str, ...]) -> str:
    return ", ".join(f"{n} {metadata.version(n)}" for n in names)


def _window(
    schema: data.Schema, spec: list[int], shift: data.Shift, chunk: int | None
) -> tuple[data.Table, str]:
    """The window a spec names (drawn chunk by chunk when ``chunk`` is set) and its digest."""
    rows, seed = spec
    if chunk:
        parts = list(data.draw_chunks(schema, rows, chunk, seed, shift))
        return data.concat(parts), data.digest(*parts)
    table = data.draw(schema, rows, seed, shift)
    return table, data.digest(table)


def _frame(table: data.Table) -> Any:
    """A pandas frame: numeric columns as floats, categorical ones as integer codes."""
    import pandas as pd  # type: ignore[import-untyped]

    num, cat = table.schema.names
    cols: dict[str, Any] = {n: table.numeric[:, j] for j, n in enumerate(num)}
    cols |= {n: table.categorical[:, k] for k, n in enumerate(cat)}
    return pd.DataFrame(cols)


def _legacy(ref: Any, cur: Any, num: list[str], cat: list[str], preset: bool) -> dict[str, Any]:
    """The legacy (0.4-style) report: ``DataDriftPreset`` or, as fast, its
    ``DataDriftTable`` alone (the preset's other metric repeats the same column tests)."""
    from evidently.legacy.metric_preset import DataDriftPreset  # type: ignore[import-not-found]
    from evidently.legacy.metrics import DataDriftTable  # type: ignore[import-not-found]
    from evidently.legacy.pipeline.column_mapping import ColumnMapping  # type: ignore[import-not-found]
    from evidently.legacy.report import Report  # type: ignore[import-not-found]

    report = Report(metrics=[DataDriftPreset() if preset else DataDriftTable()])
    mapping = ColumnMapping(numerical_features=num, categorical_features=cat)
    report.run(reference_data=ref, current_data=cur, column_mapping=mapping)
    res = {m["metric"]: m["result"] for m in report.as_dict()["metrics"]}
    table = res["DataDriftTable"]
    by = table["drift_by_columns"]
    return {
        "flagged": sorted(c for c, v in by.items() if v["drift_detected"]),
        "dataset_drift": bool(table["dataset_drift"]),
        "share": float(table["share_of_drifted_columns"]),
        "methods": sorted({str(v["stattest_name"]) for v in by.values()}),
    }


def _new_api(ref: Any, cur: Any, num: list[str], cat: list[str]) -> tuple[list[str], bool]:
    """Columns the new (0.7) API's DataDriftPreset fails (its tests on), and its
    dataset-drift test."""
    from evidently import DataDefinition, Dataset, Report  # type: ignore[import-not-found]
    from evidently.presets import DataDriftPreset  # type: ignore[import-not-found]

    dd = DataDefinition(numerical_columns=num, categorical_columns=cat)
    snap = Report([DataDriftPreset()], include_tests=True).run(
        current_data=Dataset.from_pandas(cur, data_definition=dd),
        reference_data=Dataset.from_pandas(ref, data_definition=dd),
    )
    flagged, dataset = [], False
    for t in snap.dict()["tests"]:
        params = t["metric_config"]["params"]
        if params["type"] == "evidently:metric_v2:ValueDrift" and t["status"] == "FAIL":
            flagged.append(str(params["column"]))
        elif params["type"] == "evidently:metric_v2:DriftedColumnsCount":
            dataset = t["status"] == "FAIL"
    return sorted(flagged), dataset


def evidently(schema: data.Schema, trial: dict[str, Any], check: bool) -> dict[str, Any]:
    """Evidently's DataDriftPreset at its defaults (drift_share 0.5, methods chosen per
    column), through the legacy ``DataDriftTable``; on ``check`` trials the legacy
    preset and the new API's preset too, which must flag the same columns."""
    shift = data.Shift.from_dict(trial["shift"])
    ref_t, ref_d = _window(schema, trial["ref"], data.NO_SHIFT, trial.get("chunk"))
    cur_t, cur_d = _window(schema, trial["cur"], shift, trial.get("chunk"))
    ref, cur = _frame(ref_t), _frame(cur_t)
    num, cat = schema.names
    start = time.perf_counter()
    out = _legacy(ref, cur, num, cat, preset=False)
    out["seconds"] = time.perf_counter() - start
    out["digests"] = [ref_d, cur_d]
    if check:
        preset = _legacy(ref, cur, num, cat, preset=True)
        start = time.perf_counter()
        new_flags, new_dataset = _new_api(ref, cur, num, cat)
        out["new_api_seconds"] = time.perf_counter() - start
        out["check_agrees"] = (
            preset["flagged"] == out["flagged"] == new_flags
            and preset["dataset_drift"] == out["dataset_drift"] == new_dataset
        )
    return out


def alibi(schema: data.Schema, trial: dict[str, Any], check: bool) -> dict[str, Any]:
    """Alibi Detect's TabularDrift at its defaults (p_val 0.05, Bonferroni): one batch
    prediction; per-feature flags are ``p_val < 0.05`` (its "feature" mode, checked on
    the first trial) and ``p_val < threshold`` (the corrected level)."""
    from alibi_detect.cd import TabularDrift  # type: ignore[import-not-found]

    shift = data.Shift.from_dict(trial["shift"])
    ref_t, ref_d = _window(schema, trial["ref"], data.NO_SHIFT, trial.get("chunk"))
    cur_t, cur_d = _window(schema, trial["cur"], shift, trial.get("chunk"))
    x_ref = np.hstack([ref_t.numeric, ref_t.categorical.astype(np.float64)])
    x_cur = np.hstack([cur_t.numeric, cur_t.categorical.astype(np.float64)])
    num, cat = schema.names
    names = num + cat
    cats: dict[int, None] = {schema.numeric + k: None for k in range(schema.categorical)}
    start = time.perf_counter()
    detector = TabularDrift(x_ref, p_val=P_VAL, categories_per_feature=cats)
    found = detector.predict(x_cur, drift_type="batch", return_p_val=True)["data"]
    seconds = time.perf_counter() - start
    p = np.asarray(found["p_val"], dtype=np.float64)
    out: dict[str, Any] = {
        "is_drift": bool(found["is_drift"]),
        "threshold": float(found["threshold"]),
        "flagged": [names[i] for i in np.flatnonzero(p < P_VAL)],
        "flagged_corrected": [names[i] for i in np.flatnonzero(p < float(found["threshold"]))],
        "seconds": seconds,
        "digests": [ref_d, cur_d],
    }
    if check:
        feat = detector.predict(x_cur, drift_type="feature")["data"]
        mine = np.isin(np.array(names), out["flagged"]).astype(int)
        out["feature_mode_agrees"] = bool(np.array_equal(np.asarray(feat["is_drift"]), mine))
    return out


def main(argv: list[str]) -> None:
    """Run the named peer on every trial of the spec and write the results."""
    peer, spec_path, out_path = argv
    spec = json.loads(Path(spec_path).read_text())
    schema = data.Schema(int(spec["numeric"]), int(spec["categorical"]))
    results = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for i, trial in enumerate(spec["trials"]):
            if peer == "evidently":
                results.append(evidently(schema, trial, i < int(spec.get("check", 0))))
            else:
                results.append(alibi(schema, trial, i == 0))
            if (i + 1) % 50 == 0:
                print(
                    f"  {peer}: {i + 1}/{len(spec['trials'])} trials", file=sys.stderr, flush=True
                )
    names = (
        ("evidently", "pandas", "numpy", "scipy")
        if peer == "evidently"
        else ("alibi-detect", "numpy", "scipy")
    )
    Path(out_path).write_text(json.dumps({"versions": _versions(names), "trials": results}))


if __name__ == "__main__":
    main(sys.argv[1:])
