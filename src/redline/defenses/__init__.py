"""Defences: adversarial training (PGD-AT, TRADES, FGSM-RS) and backdoor repair with
before/after evidence (DER)."""

from redline.defenses._adversarial import (
    EpochLog,
    TrainConfig,
    TrainResult,
    adversarial_train,
    epoch_batches,
)
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
from redline.defenses._smoothing import SmoothedClassifier
from redline.defenses._smoothing_result import CertifyResult, certify_dataset
from redline.defenses._smoothing_train import NoiseEpochLog, gaussian_augment_train

__all__ = [
    "CalibrationMetrics",
    "CalibrationResult",
    "CertifyResult",
    "EpochLog",
    "NoiseEpochLog",
    "RepairResult",
    "SmoothedClassifier",
    "TemperatureScaled",
    "TrainConfig",
    "TrainResult",
    "adversarial_train",
    "calibrate",
    "certify_dataset",
    "defense_effectiveness_rating",
    "epoch_batches",
    "evaluate_repair",
    "fine_prune",
    "fit_temperature",
    "gaussian_augment_train",
    "predict_labels",
    "retrain_without",
]
