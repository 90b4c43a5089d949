"""Targets: the model under test, as attacks see it, and safe model loading."""

from redline.targets._base import LossFn, Target
from redline.targets._callable import CallableTarget
from redline.targets._ensemble import Combine, Ensemble, ensemble_target, load_ensemble
from redline.targets._features import activations, candidate_layers, layer_names, penultimate
from redline.targets._http import EndpointError, HttpTarget, QueryBudgetError
from redline.targets._loading import LoadedModel, load_model
from redline.targets._normalized import InputSpace, in_input_space
from redline.targets._onnx import OnnxTarget
from redline.targets._predict import predict_labels
from redline.targets._scores import Scores
from redline.targets._sklearn import SklearnTarget
from redline.targets._tabular_loading import TABULAR_SUFFIXES, TabularModel, load_tabular_model
from redline.targets._torch import TorchTarget
from redline.targets._tree_target import TreeTarget
from redline.targets._trees import TreeEnsemble
from redline.targets._usage import Usage

__all__ = [
    "TABULAR_SUFFIXES",
    "CallableTarget",
    "Combine",
    "EndpointError",
    "Ensemble",
    "HttpTarget",
    "InputSpace",
    "LoadedModel",
    "LossFn",
    "OnnxTarget",
    "QueryBudgetError",
    "Scores",
    "SklearnTarget",
    "TabularModel",
    "Target",
    "TorchTarget",
    "TreeEnsemble",
    "TreeTarget",
    "Usage",
    "activations",
    "candidate_layers",
    "ensemble_target",
    "in_input_space",
    "layer_names",
    "load_ensemble",
    "load_model",
    "load_tabular_model",
    "penultimate",
    "predict_labels",
]
