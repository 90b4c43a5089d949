"""Defences that repair a model: backdoor removal with before/after evidence (DER)."""

from redline.defenses._der import (
    RepairResult,
    defense_effectiveness_rating,
    evaluate_repair,
    predict_labels,
)
from redline.defenses._repair import fine_prune, retrain_without

__all__ = [
    "RepairResult",
    "defense_effectiveness_rating",
    "evaluate_repair",
    "fine_prune",
    "predict_labels",
    "retrain_without",
]
