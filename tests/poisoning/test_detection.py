"""Training-data detectors on known cases: poisoned digits at 1/5/10% (the target class is
half poison at 10%) must be ranked and flagged, a clean set must come back clean.

Each bound is the worst case measured over 5 seeds (``REDLINE_TEST_SEED=0..4``) x 3 kernels
(native AVX-512, ``ATEN_CPU_CAPABILITY=default``, AVX2), with room (CONTRIBUTING.md). Where a
method is really weak the cell is split out as a ``test_known_limit_*`` that says what is
weak and asserts what still holds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pytest

from redline.datasets import load_digits
from redline.errors import InputError
from redline.evaluation._backdoor_parts import auroc, tpr_at_fpr
from redline.poisoning.detection import (
    DATA_DETECTORS,
    RobustCovariance,
    SpectralSignatures,
    TrainingDataDetector,
)

from .conftest import ATTACKS, RATES, TARGET_CLASS, PoisonedModel, poisoned_model

Models = Callable[[str, float], PoisonedModel]
CELLS = [(a, r) for a in ATTACKS for r in RATES if (a, r) != ("blended", 0.01)]
ASR_FLOOR = {0.01: 0.15, 0.05: 0.4, 0.1: 0.75}
"""The backdoor is real: trigger success on held-out digits, worst 0.21 / 0.51 / 0.87."""
KNOWN_LIMITS = {
    ("robust", "badnets", 0.01),
    ("robust", "blended", 0.01),
    ("isolation", "badnets", 0.01),
    ("isolation", "badnets", 0.1),
}
"""(detector, attack, rate) cells left to the ``test_known_limit_*`` tests below."""


@cache
def _fitted(name: str, attack: str, rate: float) -> TrainingDataDetector:
    """Detector ``name`` fitted on the (cached) model poisoned by ``attack`` at ``rate``."""
    m = poisoned_model(attack, rate)
    return DATA_DETECTORS[name]().fit(m.target, m.x, m.y)


def _ranking(name: str, attack: str, rate: float) -> tuple[float, float]:
    """AUROC and TPR at 5% FPR of the detector's scores, poison against clean samples."""
    scores, mask = _fitted(name, attack, rate).scores_, poisoned_model(attack, rate).mask
    return auroc(scores[~mask], scores[mask]), tpr_at_fpr(scores[~mask], scores[mask])


@pytest.mark.parametrize(("attack", "rate"), CELLS)
def test_every_detector_ranks_the_poison_first(attack: str, rate: float) -> None:
    assert poisoned_model(attack, rate).attack_success > ASR_FLOOR[rate]
    for name in DATA_DETECTORS:
        if (name, attack, rate) not in KNOWN_LIMITS:
            roc, tpr = _ranking(name, attack, rate)
            # worst over 5 seeds x 3 kernels: AUROC 0.976, TPR 0.875 (spectral, blended 5%)
            assert roc >= 0.95 and tpr >= 0.8, (name, roc, tpr)


def test_known_limit_blended_at_one_percent_barely_takes() -> None:
    """Known limit: 14 blended digits (alpha 0.15) are too few for this CNN to learn the
    trigger, the attack success is 0.02-0.11 over 5 seeds x 3 kernels. What holds: the
    trigger is still visible in the features, so every detector ranks the poison above
    the clean samples (worst AUROC 0.935 and TPR at 5% FPR 0.79, both RobustCovariance)."""
    for name in DATA_DETECTORS:
        roc, tpr = _ranking(name, "blended", 0.01)
        assert roc >= 0.9 and tpr >= 0.6, (name, roc, tpr)


@pytest.mark.parametrize("attack", ATTACKS)
def test_known_limit_robust_covariance_at_one_percent(attack: str) -> None:
    """Known limit: at 1% (14 poisoned of ~164 samples in class 0) the class-level test is
    a coin flip: class 0 came up in 21 of 30 seed x kernel x attack cells, nothing in the
    others, and a flag can take 15-28 clean class-0 samples along (contamination up to
    0.28 for 0.085). What holds: no clean class and no sample outside
    the target class is ever flagged, the scores still rank the poison (worst AUROC 0.886,
    TPR at 5% FPR 0.79), and a flagged class holds most of the poison (worst 10 of 14)."""
    m, det = poisoned_model(attack, 0.01), _fitted("robust", attack, 0.01)
    assert set(det.suspicious_classes_) <= {TARGET_CLASS}
    assert not det.flagged_[m.y != TARGET_CLASS].any()
    assert max(f.contamination for f in det.classes_) <= 0.35
    roc, tpr = _ranking("robust", attack, 0.01)
    assert roc >= 0.85 and tpr >= 0.6, (roc, tpr)
    if det.suspicious_classes_:
        assert det.flagged_[m.mask].sum() >= 8


@pytest.mark.parametrize("rate", [0.01, 0.1])
def test_known_limit_loss_isolation_on_badnets(rate: float) -> None:
    """Known limit: LossIsolation ranks BadNets poison worse than the other detectors, at 1%
    (worst AUROC 0.943, TPR at 5% FPR 0.64) and most at 10%, where class 0 is half poison
    (worst AUROC 0.816, TPR 0.33; on one seed it flags nothing in class 0). What holds: the
    poison still ranks above the clean samples, by the floors below."""
    floor = {0.01: (0.9, 0.5), 0.1: (0.75, 0.25)}[rate]
    roc, tpr = _ranking("isolation", "badnets", rate)
    assert roc >= floor[0] and tpr >= floor[1], (roc, tpr)


@pytest.mark.parametrize(("attack", "rate"), [(a, r) for a in ATTACKS for r in (0.05, 0.1)])
def test_robust_covariance_flags_the_target_class_from_five_percent(
    attack: str, rate: float
) -> None:
    """From 5% the flag is reliable; at 1% see the known limit above."""
    m, det = poisoned_model(attack, rate), _fitted("robust", attack, rate)
    assert det.suspicious_classes_ == [TARGET_CLASS]
    assert det.flagged_[m.mask].mean() >= 0.7  # worst over 5 seeds x 3 kernels: 0.77
    # worst over 5 seeds x 3 kernels: 5 clean samples flagged (blended 10%)
    assert det.flagged_[~m.mask].sum() <= 0.015 * (~m.mask).sum()
    finding = next(f for f in det.classes_ if f.label == TARGET_CLASS)
    # worst over 5 seeds x 3 kernels: 0.40 estimated for 0.49 (blended 10%)
    assert finding.contamination == pytest.approx(m.target_share, abs=0.15)


def test_half_poisoned_target_class_is_read_the_right_way_round() -> None:
    """At 10% the poison is about half of class 0: "the smaller cluster is poison" would be
    a coin flip; the flags must land on the poison, not on the clean half (LossIsolation:
    see its known limit)."""
    m = poisoned_model("badnets", 0.1)
    assert 0.4 < m.target_share < 0.6
    for name in DATA_DETECTORS.keys() - {"isolation"}:
        flagged = _fitted(name, "badnets", 0.1).flagged_ & (m.y == TARGET_CLASS)
        assert flagged.sum() > 0, name
        # worst over 5 seeds x 3 kernels: 0.87 (spectral)
        assert m.mask[flagged].mean() >= 0.8, name


def test_clean_training_set_has_no_flagged_class() -> None:
    for name in DATA_DETECTORS:
        det = _fitted(name, "clean", 0.0)
        assert det.suspicious_classes_ == [], name
        assert not det.flagged_.any(), name
        assert all(f.contamination == 0.0 for f in det.classes_), name


def test_predict_on_new_samples_and_determinism(
    digit_triggers: dict[str, Callable[[np.ndarray], np.ndarray]],
) -> None:
    m = poisoned_model("blended", 0.1)
    test = load_digits("test")
    det = _fitted("robust", "blended", 0.1)
    again = RobustCovariance().fit(m.target, m.x, m.y)
    np.testing.assert_array_equal(det.scores_, again.scores_)
    others = test.x[test.y != TARGET_CLASS]
    triggered = digit_triggers["blended"](others)
    labels = np.full(len(triggered), TARGET_CLASS)
    # worst over 5 seeds x 3 kernels: 0.73 of triggered flagged, 0.008 of clean
    assert det.predict(triggered, labels).mean() > 0.65
    assert det.predict(test.x, test.y).mean() < 0.05
    assert auroc(det.score(test.x, test.y), det.score(triggered, labels)) > 0.95


def test_layer_choice_and_explicit_layer(digits_models: Models) -> None:
    m = digits_models("badnets", 0.05)
    auto = SpectralSignatures().fit(m.target, m.x, m.y)
    assert set(auto.layer_statistics_) >= {auto.layer_}
    assert auto.layer_statistics_[auto.layer_] == max(auto.layer_statistics_.values())
    fixed = SpectralSignatures(layer=auto.layer_).fit(m.target, m.x, m.y)
    np.testing.assert_allclose(fixed.scores_, auto.scores_)
    with pytest.raises(InputError, match="'nope'"):
        SpectralSignatures(layer="nope").fit(m.target, m.x, m.y)


def test_bad_input_is_named(digits_models: Models) -> None:
    m = digits_models("clean", 0.0)
    det = SpectralSignatures()
    with pytest.raises(InputError, match="labels"):
        det.fit(m.target, m.x, m.y[:-1])
    with pytest.raises(InputError, match="two classes"):
        det.fit(m.target, m.x[m.y == 1], m.y[m.y == 1])
    with pytest.raises(InputError, match="out of range"):
        det.fit(m.target, m.x, np.where(m.y == 9, 12, m.y))
    with pytest.raises(InputError, match="not fitted"):
        SpectralSignatures().score(m.x, m.y)
