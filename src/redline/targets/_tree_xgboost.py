"""XGBoost boosters (their own JSON model, no pickle) as a :class:`TreeEnsemble`.

XGBoost sends a sample left iff ``float32(x) < split_condition`` (a float32); on float32
values that is ``x <= nextafter(split_condition, -inf)``, the threshold stored here. A
missing value follows the node's ``default_left``. ``base_score`` is saved as a
probability for logistic objectives and turned into a margin (its logit).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import numpy as np

from redline.errors import InputError
from redline.targets._tree_build import ForestBuilder
from redline.targets._trees import Link, TreeEnsemble

__all__ = ["from_xgboost"]

_LINKS: dict[str, tuple[Link, bool]] = {
    "binary:logistic": ("logistic", True),
    "reg:logistic": ("logistic", True),
    "binary:logitraw": ("logistic", False),
    "multi:softprob": ("softmax", False),
    "multi:softmax": ("softmax", False),
}
"""Objective -> (link, whether base_score is a probability to turn into a margin)."""


def from_xgboost(model: Any) -> TreeEnsemble:
    """Parse ``booster.save_raw("json")`` (an XGBClassifier gives its booster)."""
    booster = model.get_booster() if hasattr(model, "get_booster") else model
    if not hasattr(booster, "save_raw"):
        raise InputError(f"{type(model).__name__} is not an XGBoost booster")
    learner = json.loads(bytes(booster.save_raw(raw_format="json")))["learner"]
    objective = learner["objective"]["name"]
    if objective not in _LINKS:
        raise InputError(f"XGBoost objective {objective!r} is not a supported classifier")
    link, prob_base = _LINKS[objective]
    params = learner["learner_model_param"]
    if int(params.get("num_target", "1")) != 1:
        raise InputError("multi-target XGBoost models are not supported")
    n_out = max(int(params["num_class"]), 1)
    if (link == "softmax") != (n_out > 1):
        raise InputError(f"XGBoost objective {objective} does not match num_class {n_out}")
    trees, info, weights = _trees(learner["gradient_booster"])
    builder = ForestBuilder(n_out)
    for tree, cls, weight in zip(trees, info, weights, strict=True):
        _add(builder, tree, int(cls), weight)
    return builder.build(
        base=_base_margin(params["base_score"], n_out, prob_base),
        link=link,
        n_features=int(params["num_feature"]),
        float32_inputs=True,
    )


def _trees(booster: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int], list[float]]:
    """Trees, the output each one adds to, and its weight (DART drops; 1 otherwise)."""
    name = booster.get("name")
    if name == "dart":
        model = booster["gbtree"]["model"]
        weights = [float(w) for w in booster["weight_drop"]]
    elif name == "gbtree":
        model = booster["model"]
        weights = [1.0] * len(model["trees"])
    else:
        raise InputError(f"XGBoost booster {name!r} has no trees (use gbtree or dart)")
    return list(model["trees"]), [int(c) for c in model["tree_info"]], weights


def _add(builder: ForestBuilder, tree: dict[str, Any], cls: int, weight: float) -> None:
    if int(tree["tree_param"].get("size_leaf_vector", "1")) > 1:
        raise InputError("XGBoost multi-output trees are not supported")
    left = np.asarray(tree["left_children"], np.int64)
    split_type = np.asarray(tree.get("split_type", [0] * len(left)))
    inner = left >= 0
    if (split_type[inner] != 0).any():
        raise InputError("XGBoost categorical splits are not supported: numeric splits only")
    cond = np.asarray(tree["split_conditions"], np.float64)
    below = np.nextafter(cond.astype(np.float32), np.float32(-np.inf)).astype(np.float64)
    value = np.zeros((len(left), builder.n_outputs))
    value[:, cls] = np.where(inner, 0.0, cond * weight)
    builder.add_tree(
        left,
        tree["right_children"],
        tree["split_indices"],
        np.where(inner, below, 0.0),
        np.asarray(tree["default_left"], bool),
        value,
    )


def _base_margin(text: str, n_out: int, is_probability: bool) -> np.ndarray:
    """``"[6.27E-1]"`` or ``"5E-1"`` -> margins, one per output."""
    numbers = [float(v) for v in re.findall(r"[-+0-9.eEinfa]+", text)]
    if len(numbers) == 1:
        numbers *= n_out
    if len(numbers) != n_out:
        raise InputError(f"XGBoost base_score {text!r} does not have {n_out} entries")
    if is_probability:
        if not all(0.0 < p < 1.0 for p in numbers):
            raise InputError(f"XGBoost base_score {text!r} is not a probability")
        numbers = [math.log(p / (1.0 - p)) for p in numbers]
    return np.asarray(numbers, np.float64)
