"""Evaluation data: loaders with validation, bundled demo sets, integrity checks."""

from redline.datasets._bundled import load_breast_cancer, load_digits
from redline.datasets._credit import CREDIT_COLUMNS, CREDIT_SCHEMA, credit_schema, make_credit
from redline.datasets._dataset import Dataset, fingerprint
from redline.datasets._integrity import (
    DuplicateReport,
    Manifest,
    Verification,
    find_duplicates,
    manifest,
    verify,
)
from redline.datasets._labels import LabelIssueReport, find_label_issues, out_of_sample_probs
from redline.datasets._loaders import load_data
from redline.datasets._schema_bound import BoundSchema, bind_schema
from redline.datasets._schema_model import Column, FeatureSchema, OneHot, Relation
from redline.datasets._validate import validate_arrays

__all__ = [
    "CREDIT_COLUMNS",
    "CREDIT_SCHEMA",
    "BoundSchema",
    "Column",
    "Dataset",
    "DuplicateReport",
    "FeatureSchema",
    "LabelIssueReport",
    "Manifest",
    "OneHot",
    "Relation",
    "Verification",
    "bind_schema",
    "credit_schema",
    "find_duplicates",
    "find_label_issues",
    "fingerprint",
    "load_breast_cancer",
    "load_data",
    "load_digits",
    "make_credit",
    "manifest",
    "out_of_sample_probs",
    "validate_arrays",
    "verify",
]
