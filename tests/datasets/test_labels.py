"""Confident learning finds flipped labels on real digits and leaves clean ones alone."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from redline.datasets import Dataset, load_digits
from redline.datasets._labels import LabelIssueReport, find_label_issues, out_of_sample_probs
from redline.errors import InputError

Labels = npt.NDArray[np.int64]


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_digits("all")


def _flip(y: Labels, rate: float, seed: int) -> tuple[Labels, npt.NDArray[np.bool_]]:
    """Relabel a seeded ``rate`` of the samples to a different class, uniformly."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(y), size=round(rate * len(y)), replace=False)
    noisy = y.copy()
    noisy[idx] = (y[idx] + rng.integers(1, 10, size=len(idx))) % 10
    truth = np.zeros(len(y), dtype=bool)
    truth[idx] = True
    return noisy, truth


@pytest.fixture(scope="module")
def noisy(digits: Dataset) -> tuple[Labels, npt.NDArray[np.bool_], LabelIssueReport]:
    y, truth = _flip(digits.y, 0.05, seed=0)
    return y, truth, find_label_issues(digits.x, y, seed=0)


def test_finds_random_label_flips(
    digits: Dataset, noisy: tuple[Labels, npt.NDArray[np.bool_], LabelIssueReport]
) -> None:
    _, truth, report = noisy
    hits = int((report.mask & truth).sum())
    precision, recall = hits / len(report.indices), hits / int(truth.sum())
    assert precision >= 0.7 and recall >= 0.7, (precision, recall)  # measured 0.83, 0.88
    assert 0.03 <= report.noise_rate <= 0.08  # 5% flipped
    found = report.indices[truth[report.indices]]
    suggested = report.suggested[truth[report.indices]]
    assert (suggested == digits.y[found]).mean() >= 0.9  # the true label is suggested
    assert sum(report.per_class.values()) == len(report.indices)


def test_issues_are_ranked_most_likely_first(
    digits: Dataset, noisy: tuple[Labels, npt.NDArray[np.bool_], LabelIssueReport]
) -> None:
    y, _, by_margin = noisy
    assert (np.diff(by_margin.self_confidence) != 0).any()
    by_confidence = find_label_issues(digits.x, y, rank_by="self_confidence")
    assert np.all(np.diff(by_confidence.self_confidence) >= 0)
    assert set(by_confidence.indices) == set(by_margin.indices)
    top = by_margin.indices[0]
    assert by_margin.self_confidence[0] < 0.2 and y[top] != by_margin.suggested[0]


def test_clean_digits_have_few_issues(digits: Dataset) -> None:
    report = find_label_issues(digits.x, digits.y)
    assert len(report.indices) <= 10  # measured 3: ambiguous 8s and a 6 that look like 1s
    assert report.noise_rate < 0.01
    assert report.confident_joint.shape == (10, 10)
    assert np.trace(report.confident_joint) >= 0.9 * report.confident_joint.sum()


def test_given_probabilities_flag_exactly_the_contradicted_labels() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 4, size=200)
    probs = np.full((200, 4), 0.1 / 3)
    probs[np.arange(200), truth] = 0.9
    y, flipped = truth.copy(), np.arange(0, 200, 20)
    y[flipped] = (truth[flipped] + 1) % 4
    report = find_label_issues(None, y, probs=probs)
    assert sorted(report.indices.tolist()) == flipped.tolist()
    assert np.array_equal(report.suggested, truth[report.indices])
    assert np.flatnonzero(report.mask).tolist() == flipped.tolist()


def test_out_of_sample_probs_are_probabilities(digits: Dataset) -> None:
    probs = out_of_sample_probs(digits.x[:300], digits.y[:300], folds=3)
    assert probs.shape == (300, 10)
    assert np.allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == digits.y[:300]).mean() > 0.85


def test_rejects_bad_input(digits: Dataset) -> None:
    y = digits.y[:100]
    with pytest.raises(InputError, match="shape"):
        find_label_issues(None, y, probs=np.full((100, 3), 1 / 3))
    with pytest.raises(InputError, match="sum to 1"):
        find_label_issues(None, y, probs=np.ones((100, 10)) * 0.5)
    with pytest.raises(InputError, match="at least 5 samples per class"):
        find_label_issues(digits.x[:12], digits.y[:12])
    with pytest.raises(InputError, match="rank_by"):
        find_label_issues(digits.x, digits.y, rank_by="loss")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="x has 99 samples"):
        find_label_issues(digits.x[:99], y, probs=np.full((100, 10), 0.1))
