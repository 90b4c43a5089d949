"""Tabular model files: every safe format loads without running code and predicts what
the library that wrote it predicts; pickles (and skops files with untrusted types) are
refused unless allowed, and a refused pickle's payload never runs."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from redline.errors import InputError
from redline.targets import SklearnTarget, TreeTarget, load_tabular_model

X, Y = load_breast_cancer(return_X_y=True)
X32 = X.astype(np.float32)


def _labels(path: Path, **kw: object) -> np.ndarray:
    model = load_tabular_model(path, **kw)  # type: ignore[arg-type]
    return model.target.predict(torch.as_tensor(X32)).numpy()


def test_skops_files_load_as_black_box_or_as_trees(tmp_path: Path) -> None:
    import skops.io as sio

    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, Y)
    trees = GradientBoostingClassifier(n_estimators=10, max_depth=3, random_state=0).fit(X, Y)
    sio.dump(linear, tmp_path / "linear.skops")
    sio.dump(trees, tmp_path / "trees.skops")
    lin = load_tabular_model(tmp_path / "linear.skops")
    assert isinstance(lin.target, SklearnTarget) and lin.kind == "sklearn (skops)"
    assert lin.classes == (0, 1) and len(lin.sha256) == 64
    assert np.array_equal(_labels(tmp_path / "linear.skops"), linear.predict(X32))
    tree = load_tabular_model(tmp_path / "trees.skops")
    assert isinstance(tree.target, TreeTarget)  # the exact tree attack can read it
    assert np.array_equal(_labels(tmp_path / "trees.skops"), trees.predict(X32))


def _custom(x: np.ndarray) -> np.ndarray:
    return x * 2.0


def test_skops_with_untrusted_types_is_refused(tmp_path: Path) -> None:
    import skops.io as sio

    model = make_pipeline(FunctionTransformer(_custom), StandardScaler(), LogisticRegression())
    sio.dump(model.fit(X, Y), tmp_path / "custom.skops")
    with pytest.raises(InputError, match="types skops does not trust"):
        load_tabular_model(tmp_path / "custom.skops")


def test_xgboost_json_and_ubj_and_lightgbm_text(tmp_path: Path) -> None:
    import lightgbm as lgb
    import xgboost as xgb

    booster = xgb.XGBClassifier(n_estimators=15, max_depth=3, random_state=0).fit(X, Y)
    for name in ("model.json", "model.ubj"):
        booster.save_model(tmp_path / name)
        loaded = load_tabular_model(tmp_path / name)
        assert loaded.kind == "xgboost" and isinstance(loaded.target, TreeTarget)
        assert np.array_equal(_labels(tmp_path / name), booster.predict(X32))
    light = lgb.LGBMClassifier(n_estimators=15, max_depth=3, verbose=-1, random_state=0).fit(X, Y)
    light.booster_.save_model(str(tmp_path / "model.txt"))
    assert load_tabular_model(tmp_path / "model.txt").kind == "lightgbm"
    assert np.array_equal(_labels(tmp_path / "model.txt"), light.predict(X32))


def test_onnx_file(tmp_path: Path) -> None:
    from skl2onnx import to_onnx

    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(X, Y)
    proto = to_onnx(linear, X32[:1], options={"zipmap": False}, target_opset=17)
    (tmp_path / "m.onnx").write_bytes(proto.SerializeToString())
    assert load_tabular_model(tmp_path / "m.onnx").kind == "onnx"
    assert (_labels(tmp_path / "m.onnx") == linear.predict(X32)).mean() > 0.995  # float32


class _Payload:
    """Unpickling this writes a file: proof that the pickle ran code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (self.marker, "pwned"))  # type: ignore[return-value]


def test_pickles_are_refused_and_their_payload_never_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(_Payload(marker)))
    with pytest.raises(InputError, match="--allow-pickle"):
        load_tabular_model(tmp_path / "evil.pkl")
    assert not marker.exists()
    import joblib

    linear = make_pipeline(StandardScaler(), LogisticRegression()).fit(X, Y)
    joblib.dump(linear, tmp_path / "ok.joblib")
    assert np.array_equal(_labels(tmp_path / "ok.joblib", allow_pickle=True), linear.predict(X32))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("m.bin", b"\x00", "unknown model format"),
        ("m.json", b'{"hello": 1}', "not an XGBoost model"),
        ("m.json", b"{not json", "not a JSON file"),
        ("m.txt", b"hello world", "not a LightGBM text model"),
        ("m.onnx", b"garbage", "not a loadable ONNX model"),
        ("m.skops", b"garbage", "not a loadable skops file"),
        ("m.ubj", b"garbage", "not a loadable XGBoost model"),
    ],
)
def test_bad_files_get_one_line_errors(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_tabular_model(tmp_path / name)
    with pytest.raises(InputError, match="not found"):
        load_tabular_model(tmp_path / "missing.onnx")


def test_an_adam_trained_mlp_loads_from_skops(tmp_path: Path) -> None:
    """An MLP keeps its optimiser's state (plain arrays): trusted like tree nodes."""
    import skops.io as sio
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    net = MLPClassifier(hidden_layer_sizes=(8,), max_iter=2000, random_state=0)
    mlp = make_pipeline(StandardScaler(), net).fit(X, Y)
    sio.dump(mlp, tmp_path / "mlp.skops")
    found = load_tabular_model(tmp_path / "mlp.skops")
    assert isinstance(found.target, SklearnTarget)
    assert np.array_equal(_labels(tmp_path / "mlp.skops"), mlp.predict(X32))
