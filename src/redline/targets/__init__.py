"""Targets: the model under test, as attacks see it."""

from redline.targets._base import LossFn, Target
from redline.targets._callable import CallableTarget
from redline.targets._torch import TorchTarget
from redline.targets._usage import Usage

__all__ = ["CallableTarget", "LossFn", "Target", "TorchTarget", "Usage"]
