"""scikit-learn trees and tree ensembles (classifiers) as a :class:`TreeEnsemble`."""

from __future__ import annotations

from typing import Any

import numpy as np

from redline.errors import InputError
from redline.targets._tree_build import ForestBuilder
from redline.targets._trees import TreeEnsemble

__all__ = ["from_sklearn"]

_SUPPORTED = (
    "DecisionTreeClassifier, RandomForestClassifier, ExtraTreesClassifier, "
    "GradientBoostingClassifier"
)


def from_sklearn(estimator: Any) -> TreeEnsemble:
    """Parse a fitted estimator; scikit-learn compares float32 features to ``<=`` thresholds."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.tree import DecisionTreeClassifier

    if isinstance(estimator, GradientBoostingClassifier):
        _fitted(estimator, "estimators_")
        return _boosting(estimator)
    if isinstance(estimator, RandomForestClassifier | ExtraTreesClassifier):
        _fitted(estimator, "estimators_")
        return _forest([t.tree_ for t in estimator.estimators_], estimator)
    if isinstance(estimator, DecisionTreeClassifier):
        _fitted(estimator, "tree_")
        return _forest([estimator.tree_], estimator)
    raise InputError(f"{type(estimator).__name__} is not a supported tree model ({_SUPPORTED})")


def _fitted(estimator: Any, attribute: str) -> None:
    if not hasattr(estimator, attribute):
        raise InputError(f"{type(estimator).__name__} is not fitted")
    if int(getattr(estimator, "n_outputs_", 1)) != 1:
        raise InputError("multi-output tree models are not supported")


def _add(builder: ForestBuilder, tree: Any, value: np.ndarray) -> None:
    missing_left = getattr(tree, "missing_go_to_left", np.ones(tree.node_count, np.uint8))
    builder.add_tree(
        tree.children_left,
        tree.children_right,
        tree.feature,
        tree.threshold,
        np.asarray(missing_left, bool),
        value,
    )


def _forest(trees: list[Any], estimator: Any) -> TreeEnsemble:
    """Average of the trees' leaf class frequencies (``predict_proba``)."""
    n_classes = len(estimator.classes_)
    builder = ForestBuilder(n_classes)
    for tree in trees:
        counts = np.asarray(tree.value, np.float64)[:, 0, :]
        totals = counts.sum(axis=1, keepdims=True)
        freq = counts / np.where(totals > 0, totals, 1.0)
        _add(builder, tree, freq / len(trees))
    return builder.build(
        base=np.zeros(n_classes),
        link="identity",
        n_features=estimator.n_features_in_,
        float32_inputs=True,
    )


def _boosting(estimator: Any) -> TreeEnsemble:
    """Constant init plus learning_rate times each regression tree, one column per class."""
    from sklearn.dummy import DummyClassifier

    init = estimator.init_
    if not (isinstance(init, DummyClassifier) or init == "zero"):
        raise InputError("gradient boosting with a custom init estimator is not a tree ensemble")
    loss = getattr(estimator, "loss", "log_loss")
    if loss not in ("log_loss", "exponential"):
        raise InputError(f"gradient boosting loss {loss!r} is not supported")
    stages = estimator.estimators_
    n_out = stages.shape[1]
    builder = ForestBuilder(n_out)
    rate = float(estimator.learning_rate)
    for stage in stages:
        for k, reg in enumerate(stage):
            leaf = np.zeros((reg.tree_.node_count, n_out))
            leaf[:, k] = rate * np.asarray(reg.tree_.value, np.float64)[:, 0, 0]
            _add(builder, reg.tree_, leaf)
    draft = builder.build(
        base=np.zeros(n_out),
        link="logistic" if n_out == 1 else "softmax",
        n_features=estimator.n_features_in_,
        float32_inputs=True,
    )
    probe = np.zeros((1, estimator.n_features_in_))
    init_raw = np.asarray(estimator.decision_function(probe), np.float64).reshape(n_out)
    base = init_raw - draft.margin(probe)[0]
    return builder.build(
        base=base,
        link=draft.link,
        n_features=draft.n_features,
        float32_inputs=True,
        scale=2.0 if loss == "exponential" else 1.0,
    )
