"""redline: security toolkit for machine-learning models."""

from redline._version import __version__
from redline.targets import CallableTarget, Target, TorchTarget

__all__ = ["CallableTarget", "Target", "TorchTarget", "__version__"]
