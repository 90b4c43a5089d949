"""Backdoor detectors: training-data ranking, trojaned-model detection, input guard.

- training data: :class:`SpectralSignatures`, :class:`ActivationClustering`,
  :class:`RobustCovariance` (SPECTRE/QUE), :class:`LossIsolation` (ABL-style);
- model: :class:`NeuralCleanse` (trigger reverse-engineering, MAD anomaly index);
- inference time: :class:`STRIP` (entropy under superimposition);
- the verdict: :class:`CombinedDetector` (per class, the strongest member's reading).
"""

from redline.poisoning.detection._base import TrainingDataDetector
from redline.poisoning.detection._blind_spots import BLIND_SPOTS, known_blind_spots
from redline.poisoning.detection.cleanse import NeuralCleanse, mad_anomaly
from redline.poisoning.detection.clustering import ActivationClustering
from redline.poisoning.detection.combined import CombinedDetector
from redline.poisoning.detection.isolation import LossIsolation
from redline.poisoning.detection.robust import RobustCovariance
from redline.poisoning.detection.spectral import SpectralSignatures
from redline.poisoning.detection.strip import STRIP

__all__ = [
    "BLIND_SPOTS",
    "DATA_DETECTORS",
    "STRIP",
    "ActivationClustering",
    "CombinedDetector",
    "LossIsolation",
    "NeuralCleanse",
    "RobustCovariance",
    "SpectralSignatures",
    "TrainingDataDetector",
    "known_blind_spots",
    "mad_anomaly",
]

DATA_DETECTORS: dict[str, type[TrainingDataDetector]] = {
    "spectral": SpectralSignatures,
    "clustering": ActivationClustering,
    "robust": RobustCovariance,
    "isolation": LossIsolation,
}
"""Training-data detectors by their CLI name."""
