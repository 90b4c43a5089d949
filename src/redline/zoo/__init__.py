"""Small reference models and a seeded trainer (demo, tests, benchmarks)."""

from redline.zoo._models import ZOO_MODELS, digits_cnn, mlp, small_cnn
from redline.zoo._train import accuracy, train_classifier

__all__ = ["ZOO_MODELS", "accuracy", "digits_cnn", "mlp", "small_cnn", "train_classifier"]
