"""Threat strings and eps values: accepted forms and one-line errors."""

from __future__ import annotations

import pytest

from redline.errors import InputError
from redline.evaluation import parse_threat
from redline.evaluation._threat import parse_eps


def test_fraction_and_sorting() -> None:
    threat = parse_threat("Linf:8/255, 2/255,4/255")
    assert threat.norm == "linf"
    assert threat.eps == pytest.approx((2 / 255, 4 / 255, 8 / 255))


def test_duplicates_collapse() -> None:
    assert parse_threat("l2:0.5,1/2,1.0").eps == (0.5, 1.0)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lp:0.1", "norm must be one of"),
        ("linf", "has no eps"),
        ("linf:", "has no eps"),
        ("linf:abc", "not a number"),
        ("linf:0", "must be > 0"),
        ("l2:-1", "must be > 0"),
        ("linf:1/0", "not a number"),
    ],
)
def test_bad_threats_are_input_errors(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as info:
        parse_threat(text)
    assert "\n" not in str(info.value)


def test_parse_eps_decimal() -> None:
    assert parse_eps(" 0.25 ") == 0.25
