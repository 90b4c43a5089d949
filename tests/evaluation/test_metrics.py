"""Wilson intervals, ECE, reliability bins and per-group accuracy on known cases."""

from __future__ import annotations

import numpy as np
import pytest

from redline.results.metrics import accuracy, ece, group_accuracies, reliability, wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (81, 100, 0.7222, 0.8749),
    ],
)
def test_wilson_matches_published_values(k: int, n: int, low: float, high: float) -> None:
    ci = wilson(k, n)
    assert ci.low == pytest.approx(low, abs=1e-4)
    assert ci.high == pytest.approx(high, abs=1e-4)


def test_wilson_of_nothing_is_uninformative() -> None:
    ci = wilson(0, 0)
    assert (ci.low, ci.high) == (0.0, 1.0)


def test_accuracy_counts_and_interval_contains_value() -> None:
    acc = accuracy(np.array([True, True, False, True]))
    assert (acc.n, acc.correct, acc.value) == (4, 3, 0.75)
    assert acc.ci.low < 0.75 < acc.ci.high


def test_ece_zero_when_calibrated_and_large_when_overconfident() -> None:
    correct = np.array([True] * 8 + [False] * 2)
    assert ece(np.full(10, 0.8), correct) == pytest.approx(0.0, abs=1e-12)
    assert ece(np.full(10, 1.0), np.array([True, False] * 5)) == pytest.approx(0.5)


def test_reliability_bins_cover_every_sample() -> None:
    conf = np.linspace(0.05, 1.0, 37)
    rel = reliability(conf, conf > 0.5, n_bins=10)
    assert sum(rel.count) == 37
    assert len(rel.bin_edges) == 11
    filled = [a for a in rel.accuracy if a is not None]
    assert filled[0] == 0.0 and filled[-1] == 1.0


def test_group_accuracies_per_key_with_names() -> None:
    keys = np.array([0, 0, 1, 1, 1])
    out = group_accuracies(
        np.array([True, False, True, True, True]), keys, {"0": "cat", "1": "dog"}
    )
    assert [(g.name, g.accuracy.value) for g in out] == [("cat", 0.5), ("dog", 1.0)]
