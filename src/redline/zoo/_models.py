"""Small reference architectures, used by the demo, the tests and the benchmarks.

They double as entry points for the CLI: ``--model zoo:small_cnn`` (or the long form
``redline.zoo:small_cnn``).
"""

from __future__ import annotations

from torch import nn

__all__ = ["ZOO_MODELS", "digits_cnn", "mlp", "small_cnn"]

ZOO_MODELS = ("digits_cnn", "mlp", "small_cnn")
"""The factories addressable as ``zoo:NAME`` wherever a model entry point is taken."""


def small_cnn(in_channels: int = 1, num_classes: int = 10, width: int = 16) -> nn.Module:
    """Two conv blocks and a two-layer head; any input size (adaptive pooling to 4x4)."""
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d((4, 4)),
        nn.Flatten(),
        nn.Linear(2 * width * 16, 4 * width),
        nn.ReLU(),
        nn.Linear(4 * width, num_classes),
    )


def digits_cnn() -> nn.Module:
    """The demo model: :func:`small_cnn` at width 8, enough for 8x8 digits (~97%) and
    four times cheaper to attack than width 16."""
    return small_cnn(in_channels=1, num_classes=10, width=8)


def mlp(in_features: int = 30, num_classes: int = 2, hidden: int = 64) -> nn.Module:
    """A two-hidden-layer perceptron for tabular data (default: breast_cancer)."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(in_features, hidden),
        nn.ReLU(),
        nn.Linear(hidden, hidden),
        nn.ReLU(),
        nn.Linear(hidden, num_classes),
    )
