"""validate_arrays: every check, with one-line messages that name the source."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from redline.datasets._validate import one_line, validate_arrays
from redline.errors import InputError


def _fails(x: Any, y: Any, *parts: str, **kwargs: Any) -> str:
    with pytest.raises(InputError) as info:
        validate_arrays(x, y, source="data.npz", **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("data.npz: ")
    for part in parts:
        assert part in message, message
    return message


def test_converts_to_float32_and_int64() -> None:
    x = np.arange(12, dtype=np.int32).reshape(3, 4)
    y = np.array([0.0, 2.0, 1.0])
    x_out, y_out = validate_arrays(x, y, source="s", num_classes=3)
    assert x_out.dtype == np.float32 and x_out.flags.c_contiguous
    assert y_out.dtype == np.int64
    np.testing.assert_array_equal(x_out, x.astype(np.float32))
    np.testing.assert_array_equal(y_out, [0, 2, 1])


def test_accepts_values_exactly_on_the_bounds_and_matching_groups() -> None:
    x = np.array([[0.0, 1.0], [0.5, 0.25]])
    x_out, _ = validate_arrays(x, [0, 1], source="s", bounds=(0.0, 1.0), groups=["a", "b"])
    assert float(x_out.min()) == 0.0 and float(x_out.max()) == 1.0


@pytest.mark.parametrize(
    ("x", "y", "parts"),
    [
        (np.zeros((0, 3)), np.zeros(0), ["is empty", "(0, 3)"]),
        (np.zeros(0), np.zeros(0), ["is empty"]),
        (np.array([["a", "b"]]), [0], ["x is not numeric", "<U1"]),
        (np.array([[1 + 2j]]), [0], ["x is not numeric", "complex"]),
        (np.zeros(3), [0, 1, 2], ["sample axis", "(3,)"]),
        (np.zeros((3, 2)), [0, 1], ["x has 3 samples but y has 2 labels"]),
        (np.zeros((2, 2)), np.zeros((2, 1)), ["y must be 1-D", "(2, 1)"]),
        (np.zeros((2, 2)), ["a", "b"], ["y is not numeric"]),
        (np.zeros((3, 2)), [0.0, 0.5, 1.5], ["2 labels are not a whole number in y", "e.g. 0.5"]),
        (np.zeros((2, 2)), [0.0, np.nan], ["1 label is NaN or infinite in y"]),
        (np.zeros((2, 2)), [0, -1], ["1 label is negative in y (min -1)"]),
    ],
)
def test_rejects_bad_shapes_and_labels(x: Any, y: Any, parts: list[str]) -> None:
    _fails(x, y, *parts)


def test_counts_nan_and_inf() -> None:
    x = np.zeros((4, 3))
    x[0, 0] = x[1, 1] = x[2, 2] = np.nan
    _fails(x, [0, 0, 0, 0], "3 values are NaN in x")
    x[3, 0] = np.inf
    _fails(x, [0, 0, 0, 0], "3 values are NaN and 1 infinite in x")
    x = np.zeros((2, 2))
    x[0, 0], x[1, 1] = np.inf, -np.inf
    _fails(x, [0, 0], "2 values are infinite in x")


def test_values_that_overflow_float32() -> None:
    _fails(np.full((1, 2), 1e300), [0], "2 values are too large for float32 in x")


def test_bounds_name_observed_range() -> None:
    x = np.array([[-0.5, 0.2], [0.3, 2.0]])
    message = _fails(x, [0, 1], "2 values are outside the bounds [0, 1]", bounds=(0.0, 1.0))
    assert "min -0.5, max 2" in message
    assert "8-bit" not in message


def test_uint8_pixels_get_a_scaling_hint() -> None:
    x = np.full((1, 4), 255, dtype=np.uint8)
    _fails(x, [0], "outside the bounds", "max 255", "scale 8-bit data", bounds=(0.0, 1.0))


@pytest.mark.parametrize("bounds", [(1.0, 0.0), (0.0, float("inf")), (0.5, 0.5)])
def test_rejects_bad_bounds(bounds: tuple[float, float]) -> None:
    _fails(np.zeros((1, 2)), [0], "bounds must be finite with low < high", bounds=bounds)


def test_labels_must_be_below_num_classes() -> None:
    _fails(
        np.zeros((3, 1)), [0, 3, 4], "2 labels are >= num_classes=3", "max label 4", num_classes=3
    )
    _fails(np.zeros((1, 1)), [0], "num_classes must be >= 1", num_classes=0)


def test_groups_must_match_the_samples() -> None:
    _fails(np.zeros((3, 1)), [0, 0, 0], "groups", "3 samples", "(2,)", groups=["a", "b"])
    _fails(np.zeros((2, 1)), [0, 0], "groups must be 1-D", groups=[["a"], ["b"]])


def test_one_line_flattens_and_truncates() -> None:
    assert one_line("a\n  b\tc") == "a b c"
    long = one_line("x" * 500, limit=50)
    assert len(long) == 50 and long.endswith("...")
