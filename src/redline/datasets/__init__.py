"""Evaluation data: loaders with validation, and bundled demo sets."""

from redline.datasets._bundled import load_breast_cancer, load_digits
from redline.datasets._dataset import Dataset, fingerprint

__all__ = ["Dataset", "fingerprint", "load_breast_cancer", "load_digits"]
