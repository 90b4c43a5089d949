"""Evaluation data: loaders with validation, bundled demo sets, integrity checks, and
natural shifts (image corruptions, tabular noise, missing values, quantile shifts)."""

from redline.datasets._bundled import load_breast_cancer, load_digits
from redline.datasets._corruptions import CORRUPTIONS, corrupt, corruption_names
from redline.datasets._credit import CREDIT_COLUMNS, CREDIT_SCHEMA, credit_schema, make_credit
from redline.datasets._dataset import Dataset, fingerprint
from redline.datasets._impute import Imputation, impute
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
from redline.datasets._shifts import gaussian_feature_noise, missing_values, quantile_shift
from redline.datasets._validate import validate_arrays

__all__ = [
    "CORRUPTIONS",
    "CREDIT_COLUMNS",
    "CREDIT_SCHEMA",
    "BoundSchema",
    "Column",
    "Dataset",
    "DuplicateReport",
    "FeatureSchema",
    "Imputation",
    "LabelIssueReport",
    "Manifest",
    "OneHot",
    "Relation",
    "Verification",
    "bind_schema",
    "corrupt",
    "corruption_names",
    "credit_schema",
    "find_duplicates",
    "find_label_issues",
    "fingerprint",
    "gaussian_feature_noise",
    "impute",
    "load_breast_cancer",
    "load_data",
    "load_digits",
    "make_credit",
    "manifest",
    "missing_values",
    "out_of_sample_probs",
    "quantile_shift",
    "validate_arrays",
    "verify",
]
