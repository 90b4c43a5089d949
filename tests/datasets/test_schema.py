"""Feature schemas: parsing refuses what contradicts itself, binding refuses data that
breaks it, and projection turns any candidate into a valid change of the clean point
(checked on wild random candidates: 0 violations, every rule held separately)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import pytest
import torch

from redline.datasets import (
    CREDIT_COLUMNS,
    CREDIT_SCHEMA,
    FeatureSchema,
    bind_schema,
    credit_schema,
    make_credit,
)
from redline.errors import InputError

COL = {name: i for i, name in enumerate(CREDIT_COLUMNS)}


@pytest.fixture(scope="module")
def credit() -> tuple[np.ndarray, object]:
    x, _ = make_credit(600, seed=1)
    return x, bind_schema(credit_schema(), CREDIT_COLUMNS, x)


def _wild(x: np.ndarray, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidates far outside every rule: noise of 3x each column's spread, some huge."""
    rng = np.random.default_rng(seed)
    x0 = torch.as_tensor(x)
    spread = x.std(axis=0) + 1.0
    noise = rng.normal(0, 3, x.shape) * spread
    noise[::7] *= 100
    return x0, torch.as_tensor((x + noise).astype(np.float32))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_projection_of_wild_candidates_is_always_valid(credit: tuple, seed: int) -> None:
    x, schema = credit
    x0, cand = _wild(x, seed)
    out = schema.project(x0, cand)
    assert out.shape == cand.shape and out.dtype == torch.float32
    assert schema.violations(x0.numpy(), cand.numpy()).min() > 0  # the candidates were bad
    assert schema.violations(x0.numpy(), out.numpy()).max() == 0
    a0, a = x0.numpy().astype(np.float64), out.numpy().astype(np.float64)
    assert np.array_equal(a[:, COL["age"]], a0[:, COL["age"]])
    assert np.array_equal(a[:, COL["region"]], a0[:, COL["region"]])
    assert (a[:, COL["income"]] >= a0[:, COL["income"]]).all()
    assert (np.abs(a[:, COL["n_accounts"]] - a0[:, COL["n_accounts"]]) <= 2).all()
    emp = a[:, [COL["emp_salaried"], COL["emp_self"], COL["emp_none"]]]
    assert set(np.unique(emp)) <= {0.0, 1.0} and (emp.sum(axis=1) == 1).all()
    total = a[:, COL["card_debt"]] + a[:, COL["loan_debt"]]
    np.testing.assert_allclose(a[:, COL["total_debt"]], total, rtol=1e-5)
    # most samples really moved (the projection is not "give back x0")
    assert (np.abs(a - a0).sum(axis=1) > 0).mean() > 0.9
    again = schema.project(x0, out)
    torch.testing.assert_close(again, out, rtol=1e-6, atol=0)  # a valid point stays (float32)


def test_violations_count_each_rule(credit: tuple) -> None:
    x, schema = credit
    x0 = x[:1].astype(np.float64)
    bad = x0.copy()
    bad[0, COL["age"]] += 1  # immutable
    bad[0, COL["income"]] -= 1  # increase only
    bad[0, COL["n_accounts"]] += 0.5  # not whole (and moves total? no)
    bad[0, COL["card_debt"]] += 1  # breaks total_debt = card + loan
    assert schema.violations(x0, bad).tolist() == [4]
    assert schema.violations(x0, x0).tolist() == [0]


def _schema(text: str) -> FeatureSchema:
    return FeatureSchema.from_dict(tomllib.loads(text))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[columns.a]\nkind = 'text'\n", "kind must be one of"),
        ("[columns.a]\nbudget = 1\nbudget_std = 1\n", "both budget and budget_std"),
        ("[columns.a]\nmin = 3\nmax = 1\n", "needs min < max"),
        ("[columns.a]\nkind = 'categorical'\n", "needs values"),
        ("[columns.a]\ncolour = 1\n", "unknown keys"),
        ("[columns.a]\n[onehot.g]\ncolumns = ['a', 'b']\n", "declared twice"),
        (
            "[columns.a]\n[columns.b]\n[columns.c]\n"
            "[[relations]]\ntarget = 'a'\nterms = {b = 1}\n"
            "[[relations]]\ntarget = 'a'\nterms = {c = 1}\n",
            "target of two relations",
        ),
        (
            "[columns.a]\n[columns.b]\n[columns.c]\n"
            "[[relations]]\ntarget = 'a'\nterms = {b = 1}\n"
            "[[relations]]\ntarget = 'b'\nterms = {c = 1}\n",
            "uses derived columns",
        ),
        ("[columns.a]\n[[relations]]\ntarget = 'a'\nterms = {z = 1}\n", "unknown columns"),
    ],
)
def test_contradictory_or_malformed_schemas_are_refused(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        _schema(text)


def test_binding_refuses_data_that_breaks_the_schema(credit: tuple, tmp_path: Path) -> None:
    x, _ = credit
    schema = credit_schema()
    with pytest.raises(InputError, match="does not match the data's columns"):
        bind_schema(schema, [*CREDIT_COLUMNS[:-1], "postcode"], x)
    cases = {
        "region": (5.0, "not one of the declared values"),
        "age": (17.0, "outside"),
        "n_accounts": (2.5, "not a whole number"),
        "total_debt": (-0.0 + 1e9, "relation for 'total_debt'"),
    }
    for column, (value, message) in cases.items():
        broken = x.copy()
        broken[3, COL[column]] = value
        with pytest.raises(InputError, match=message):
            bind_schema(schema, CREDIT_COLUMNS, broken)
    path = tmp_path / "credit.schema.toml"
    path.write_text(CREDIT_SCHEMA)
    assert FeatureSchema.load(path) == FeatureSchema.from_dict(
        tomllib.loads(CREDIT_SCHEMA), source=str(path)
    )
    path.write_text("[columns\n")
    with pytest.raises(InputError, match="not valid TOML"):
        FeatureSchema.load(path)
