"""LightGBM boosters (``dump_model()``, no pickle) as a :class:`TreeEnsemble`.

Margins are LightGBM's ``raw_score``; in random-forest mode those are sums over the
trees and the probabilities use their mean, so the ensemble's ``scale`` divides by the
number of iterations. LightGBM sends a sample left iff ``x <= threshold`` in float64. A
missing value goes the node's default way for ``missing_type`` NaN and is read as 0 for
``None``; ``Zero`` (zero-as-missing) splits are accepted only where the default way is
the one 0 takes anyway. Categorical splits and linear trees are refused.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from redline.errors import InputError
from redline.targets._tree_build import ForestBuilder
from redline.targets._trees import Link, TreeEnsemble

__all__ = ["from_lightgbm"]

_ZERO = 1e-35
"""LightGBM's kZeroThreshold: ``|x| <= 1e-35`` counts as zero for zero-as-missing splits."""


def from_lightgbm(model: Any) -> TreeEnsemble:
    """Parse ``booster.dump_model()`` (an LGBMClassifier gives its ``booster_``)."""
    booster = model.booster_ if hasattr(model, "booster_") else model
    if not hasattr(booster, "dump_model"):
        raise InputError(f"{type(model).__name__} is not a LightGBM booster")
    dump = booster.dump_model()
    link, scale = _objective(str(dump.get("objective", "")))
    per_iteration = int(dump["num_tree_per_iteration"])
    n_out = per_iteration if link == "softmax" else 1
    infos = dump["tree_info"]
    iterations = max(len(infos) // per_iteration, 1)
    if dump.get("average_output", False):  # random forest mode: raw scores are sums
        scale /= iterations
    builder = ForestBuilder(n_out)
    for i, info in enumerate(infos):
        _add(builder, info["tree_structure"], i % per_iteration)
    return builder.build(
        base=np.zeros(n_out),
        link=link,
        n_features=int(dump["max_feature_idx"]) + 1,
        float32_inputs=False,
        scale=scale,
    )


def _objective(text: str) -> tuple[Link, float]:
    """``"binary sigmoid:1"`` -> ("logistic", 1.0); ``"multiclass num_class:3"`` -> softmax."""
    name, *options = text.split()
    if name in ("binary", "cross_entropy", "xentropy"):
        params = dict(o.split(":", 1) for o in options if ":" in o)
        return "logistic", float(params.get("sigmoid", "1"))
    if name in ("multiclass", "softmax"):
        return "softmax", 1.0
    raise InputError(f"LightGBM objective {text!r} is not a supported classifier")


def _add(builder: ForestBuilder, root: dict[str, Any], cls: int) -> None:
    """Flatten one nested tree into child arrays (ids in visiting order, root 0)."""
    left: list[int] = []
    right: list[int] = []
    feature: list[int] = []
    threshold: list[float] = []
    default_left: list[bool] = []
    leaf: list[float] = []
    stack: list[tuple[dict[str, Any], int, bool]] = [(root, -1, True)]
    while stack:
        node, parent, is_left = stack.pop()
        if parent >= 0:
            (left if is_left else right)[parent] = len(left)
        left.append(-1)
        right.append(-1)
        if "split_feature" not in node:
            if "leaf_coeff" in node:
                raise InputError("LightGBM linear trees are not supported")
            feature.append(-1)
            threshold.append(0.0)
            default_left.append(True)
            leaf.append(float(node["leaf_value"]))
            continue
        thr, dflt = _split(node)
        feature.append(int(node["split_feature"]))
        threshold.append(thr)
        default_left.append(dflt)
        leaf.append(0.0)
        stack.append((node["right_child"], len(left) - 1, False))
        stack.append((node["left_child"], len(left) - 1, True))
    value = np.zeros((len(left), builder.n_outputs))
    value[:, cls] = leaf
    builder.add_tree(left, right, feature, threshold, default_left, value)


def _split(node: dict[str, Any]) -> tuple[float, bool]:
    """Threshold and where a missing value goes, in ``x <= threshold`` form."""
    if node.get("decision_type", "<=") != "<=":
        raise InputError("LightGBM categorical splits are not supported: numerical splits only")
    threshold = float(node["threshold"])
    missing = node.get("missing_type", "None")
    default_left = bool(node.get("default_left", True))
    if missing == "NaN":
        return threshold, default_left
    zero_left = threshold >= 0.0
    if missing == "Zero":
        if -_ZERO <= threshold < _ZERO or default_left != zero_left:
            raise InputError("LightGBM zero-as-missing splits that separate 0 are not supported")
        return threshold, default_left
    if missing != "None":
        raise InputError(f"LightGBM missing_type {missing!r} is not supported")
    return threshold, zero_left
