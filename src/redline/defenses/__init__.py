"""Defences: adversarial training (PGD-AT, TRADES, FGSM-RS) and backdoor repair with
before/after evidence (DER)."""

from redline.defenses._adversarial import EpochLog, TrainConfig, TrainResult, adversarial_train
from redline.defenses._calibration import (
    CalibrationMetrics,
    CalibrationResult,
    TemperatureScaled,
    calibrate,
    fit_temperature,
)
from redline.defenses._der import (
    RepairResult,
    defense_effectiveness_rating,
    evaluate_repair,
    predict_labels,
)
from redline.defenses._repair import fine_prune, retrain_without

__all__ = [
    "CalibrationMetrics",
    "CalibrationResult",
    "EpochLog",
    "RepairResult",
    "TemperatureScaled",
    "TrainConfig",
    "TrainResult",
    "adversarial_train",
    "calibrate",
    "defense_effectiveness_rating",
    "evaluate_repair",
    "fine_prune",
    "fit_temperature",
    "predict_labels",
    "retrain_without",
]
