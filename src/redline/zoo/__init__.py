"""Small reference models and a seeded trainer (demo, tests, benchmarks)."""

from redline.zoo._models import mlp, small_cnn
from redline.zoo._train import accuracy, train_classifier

__all__ = ["accuracy", "mlp", "small_cnn", "train_classifier"]
