"""Data poisoning and backdoors: simulate attacks, measure them, detect them."""

from redline.poisoning._adaptive import AdaptiveBlend, AdaptivePatch
from redline.poisoning._asr import attack_success_rate, triggered_test_set
from redline.poisoning._attacks import SIG, BadNets, Blended, LabelConsistent, LabelFlip
from redline.poisoning._composite import CompositeTrigger
from redline.poisoning._io import load_mask, load_poisoned, save_poisoned
from redline.poisoning._poisoner import Poisoner
from redline.poisoning._triggers import (
    BlendTrigger,
    FeaturePatchTrigger,
    FrequencyTrigger,
    PatchTrigger,
    SampleSpecificTrigger,
    SignalTrigger,
    WarpTrigger,
    trigger_from_dict,
)
from redline.poisoning._types import ClassFinding, PoisonedData, Trigger
from redline.poisoning._wanet import WaNet
from redline.targets._features import activations, candidate_layers, layer_names

__all__ = [
    "SIG",
    "AdaptiveBlend",
    "AdaptivePatch",
    "BadNets",
    "BlendTrigger",
    "Blended",
    "ClassFinding",
    "CompositeTrigger",
    "FeaturePatchTrigger",
    "FrequencyTrigger",
    "LabelConsistent",
    "LabelFlip",
    "PatchTrigger",
    "PoisonedData",
    "Poisoner",
    "SampleSpecificTrigger",
    "SignalTrigger",
    "Trigger",
    "WaNet",
    "WarpTrigger",
    "activations",
    "attack_success_rate",
    "candidate_layers",
    "layer_names",
    "load_mask",
    "load_poisoned",
    "save_poisoned",
    "trigger_from_dict",
    "triggered_test_set",
]
