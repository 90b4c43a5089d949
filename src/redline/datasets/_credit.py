"""A generated credit-default set with mixed feature kinds, for tabular red-teaming.

Real credit data cannot ship; this one has the structure that makes tabular attacks
hard to do honestly: integer and binary columns, an immutable age and region, a one-hot
employment group, a derived total (``total_debt = card_debt + loan_debt``) and
income that an applicant can only raise. The label follows a fixed logistic model of
the debt ratio, income, history and employment, plus noise, so no model is perfect.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from redline.datasets._schema_model import FeatureSchema

__all__ = ["CREDIT_COLUMNS", "CREDIT_SCHEMA", "credit_schema", "make_credit"]

CREDIT_COLUMNS = (
    "age", "income", "card_debt", "loan_debt", "total_debt", "n_accounts",
    "years_employed", "has_mortgage", "emp_salaried", "emp_self", "emp_none", "region",
)  # fmt: skip

CREDIT_SCHEMA = """\
# Generated credit set (redline.datasets.make_credit): what an applicant can change.
[columns.age]
kind = "integer"
min = 18
max = 90
immutable = true

[columns.income]
min = 0
direction = "increase"
budget_std = 0.5

[columns.card_debt]
min = 0
budget_std = 0.5

[columns.loan_debt]
min = 0
budget_std = 0.5

[columns.total_debt]
min = 0

[columns.n_accounts]
kind = "integer"
min = 0
max = 20
budget = 2

[columns.years_employed]
kind = "integer"
min = 0
max = 60
direction = "increase"
budget = 2

[columns.has_mortgage]
kind = "binary"

[columns.region]
kind = "categorical"
values = [0, 1, 2, 3]
immutable = true

[onehot.employment]
columns = ["emp_salaried", "emp_self", "emp_none"]

[[relations]]
target = "total_debt"
terms = { card_debt = 1.0, loan_debt = 1.0 }
"""


def credit_schema() -> FeatureSchema:
    """The schema of :func:`make_credit`'s columns."""
    import tomllib

    return FeatureSchema.from_dict(tomllib.loads(CREDIT_SCHEMA), source="credit schema")


def make_credit(
    n: int = 2000, *, seed: int = 0
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """``n`` applicants (columns :data:`CREDIT_COLUMNS`) and their default labels (1 = default)."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, n).astype(np.float64)
    income = np.round(rng.lognormal(10.5, 0.5, n), 2)
    card = np.round(rng.gamma(2.0, 2500.0, n), 2)
    loan = np.round(rng.gamma(1.5, 8000.0, n) * (rng.random(n) < 0.7), 2)
    accounts = np.clip(rng.poisson(4, n), 0, 20).astype(np.float64)
    years = np.clip(np.round((age - 18) * rng.random(n)), 0, 60)
    mortgage = (rng.random(n) < 0.35).astype(np.float64)
    emp = rng.choice(3, n, p=[0.7, 0.2, 0.1])
    region = rng.integers(0, 4, n).astype(np.float64)
    ratio = (card + loan) / income
    z = (
        -1.2 + 3.0 * ratio - 0.8 * (income / income.mean() - 1) + 0.12 * (accounts - 4)
        - 0.04 * years - 0.3 * mortgage + 1.0 * (emp == 2) + 0.3 * (emp == 1)
        + 0.15 * (region == 3) - 0.01 * (age - 45)
    )  # fmt: skip
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(np.int64)
    onehot = np.eye(3)[emp]
    x = np.column_stack(
        [age, income, card, loan, card + loan, accounts, years, mortgage, onehot, region]
    )
    return x.astype(np.float32), y
