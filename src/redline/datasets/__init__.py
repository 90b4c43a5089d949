"""Evaluation data: loaders with validation, and bundled demo sets."""

from redline.datasets._bundled import load_breast_cancer, load_digits
from redline.datasets._dataset import Dataset, fingerprint
from redline.datasets._loaders import load_data
from redline.datasets._validate import validate_arrays

__all__ = [
    "Dataset",
    "fingerprint",
    "load_breast_cancer",
    "load_data",
    "load_digits",
    "validate_arrays",
]
