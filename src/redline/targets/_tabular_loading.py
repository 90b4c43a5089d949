"""Load a tabular model file safely: ONNX, XGBoost JSON/UBJ, LightGBM text, skops.

None of these formats runs code from the file. A pickle or joblib file does (unpickling
can execute anything), so it is refused unless ``allow_pickle`` says the file is
trusted; a skops file whose types skops does not trust by default is refused the same
way. The file's SHA-256 is taken before it is read and recorded with the model.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redline.errors import InputError
from redline.targets._base import Target
from redline.targets._onnx import OnnxTarget
from redline.targets._optional import first_line, optional_import
from redline.targets._scores import Scores
from redline.targets._sklearn import SklearnTarget

__all__ = ["TABULAR_SUFFIXES", "TabularModel", "load_tabular_model"]

TABULAR_SUFFIXES = (
    ".onnx",
    ".json",
    ".ubj",
    ".txt",
    ".lgb",
    ".skops",
    ".pkl",
    ".pickle",
    ".joblib",
)
_SKOPS_TREES = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
    }
)
"""scikit-learn types that skops leaves untrusted by default although their state is
plain arrays and numbers restored from numpy data, not by unpickling (tree nodes, an
MLP's Adam or SGD optimiser state), so redline trusts them; any other untrusted type
still needs ``allow_pickle``."""
_TRUST = "pass --allow-pickle only for a file you trust: loading it can run code"


@dataclass(frozen=True)
class TabularModel:
    """A loaded tabular model: the target, what it is, and the file's hash."""

    target: Target
    kind: str
    """onnx, xgboost, lightgbm, sklearn (skops), sklearn (pickle)."""
    sha256: str
    classes: tuple[Any, ...] | None = None
    """The estimator's own class labels (scikit-learn), in output order."""


def load_tabular_model(
    path: str | Path, *, allow_pickle: bool = False, scores: Scores | None = None
) -> TabularModel:
    """The target for a model file, chosen by suffix and checked by content."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{p}: model file not found")
    suffix = p.suffix.lower()
    if suffix not in TABULAR_SUFFIXES:
        raise InputError(
            f"{p}: unknown model format {suffix or '(no suffix)'!r}; expected one of "
            + ", ".join(TABULAR_SUFFIXES)
        )
    digest = _sha256(p)
    if suffix == ".onnx":
        return TabularModel(OnnxTarget(p, scores=scores), "onnx", digest)
    if suffix in (".json", ".ubj"):
        return TabularModel(_tree_target(_xgboost(p, suffix)), "xgboost", digest)
    if suffix in (".txt", ".lgb"):
        return TabularModel(_tree_target(_lightgbm(p)), "lightgbm", digest)
    if suffix == ".skops":
        return _estimator(_skops(p, allow_pickle), "sklearn (skops)", digest, scores)
    if not allow_pickle:
        raise InputError(f"{p}: is a pickle ({suffix}); {_TRUST}")
    return _estimator(_unpickle(p), "sklearn (pickle)", digest, scores)


def _sha256(p: Path) -> str:
    h = hashlib.sha256()
    with p.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _xgboost(p: Path, suffix: str) -> Any:
    if suffix == ".json":
        try:
            head = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise InputError(f"{p}: not a JSON file ({first_line(exc)})") from None
        if not isinstance(head, dict) or "learner" not in head:
            raise InputError(f"{p}: JSON but not an XGBoost model (no 'learner')")
    xgb = optional_import("xgboost", "XGBoost models")
    try:
        return xgb.Booster(model_file=str(p))
    except xgb.core.XGBoostError as exc:
        raise InputError(f"{p}: not a loadable XGBoost model ({first_line(exc)})") from None


def _lightgbm(p: Path) -> Any:
    with p.open("rb") as handle:
        head = handle.read(64)
    if not head.startswith(b"tree\n"):
        raise InputError(f"{p}: not a LightGBM text model (it starts with 'tree')")
    lgb = optional_import("lightgbm", "LightGBM models")
    try:
        return lgb.Booster(model_file=str(p))
    except lgb.basic.LightGBMError as exc:
        raise InputError(f"{p}: not a loadable LightGBM model ({first_line(exc)})") from None


def _skops(p: Path, allow_pickle: bool) -> Any:
    sio = optional_import("skops.io", "skops files")
    try:
        untrusted = sio.get_untrusted_types(file=p)
        unknown = [t for t in untrusted if t not in _SKOPS_TREES]
        if unknown and not allow_pickle:
            shown = ", ".join(unknown[:5])
            raise InputError(f"{p}: holds types skops does not trust ({shown}); {_TRUST}")
        return sio.load(p, trusted=untrusted or None)
    except InputError:
        raise
    except Exception as exc:  # skops raises zipfile, KeyError, TypeError... on bad files
        raise InputError(f"{p}: not a loadable skops file ({first_line(exc)})") from None


def _unpickle(p: Path) -> Any:
    import joblib

    try:
        return joblib.load(p)
    except Exception as exc:  # a corrupt pickle raises anything
        raise InputError(f"{p}: could not be unpickled ({first_line(exc)})") from None


def _tree_target(model: Any) -> Target:
    from redline.targets._tree_target import TreeTarget
    from redline.targets._trees import TreeEnsemble

    return TreeTarget(TreeEnsemble.from_model(model))


def _estimator(est: Any, kind: str, digest: str, scores: Scores | None) -> TabularModel:
    """A tree ensemble the exact attack can read becomes a TreeTarget (same scores, splits
    open); any other classifier a SklearnTarget."""
    black_box = SklearnTarget(est, scores=scores)
    classes = tuple(c.item() if hasattr(c, "item") else c for c in black_box.classes)
    target: Target = black_box
    if scores is None:
        with contextlib.suppress(InputError):  # not a tree ensemble redline can parse
            target = _tree_target(est)
    return TabularModel(target, kind, digest, classes)
