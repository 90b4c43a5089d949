"""The combined (verdict) detector: per class, the strongest member's reading.

Bounds are the worst over 5 seeds x 3 kernels with room (CONTRIBUTING.md).
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pytest

from redline.errors import InputError
from redline.evaluation._backdoor_parts import auroc
from redline.poisoning.detection import DATA_DETECTORS, CombinedDetector, TrainingDataDetector

from .conftest import TARGET_CLASS, poisoned_model


@cache
def _members(attack: str, rate: float) -> dict[str, TrainingDataDetector]:
    m = poisoned_model(attack, rate)
    return {n: cls().fit(m.target, m.x, m.y) for n, cls in DATA_DETECTORS.items()}


def _combined(attack: str, rate: float, **kw: int) -> CombinedDetector:
    return CombinedDetector(**kw).merge(_members(attack, rate), poisoned_model(attack, rate).y)


@pytest.mark.parametrize(("attack", "rate"), [("badnets", 0.1), ("blended", 0.05)])
def test_names_the_target_and_ranks_like_its_best_member(attack: str, rate: float) -> None:
    m, det = poisoned_model(attack, rate), _combined(attack, rate)
    assert det.suspicious_classes_ == [TARGET_CLASS]
    chosen = det.members_[det.chosen_[TARGET_CLASS]]
    assert TARGET_CLASS in chosen.suspicious_classes_
    rows = m.y == TARGET_CLASS
    np.testing.assert_array_equal(det.scores_[rows], chosen.scores_[rows])
    np.testing.assert_array_equal(det.flagged_[rows], chosen.flagged_[rows])
    assert auroc(det.scores_[~m.mask], det.scores_[m.mask]) > 0.97
    assert det.flagged_[m.mask].mean() > 0.8
    assert det.flagged_[~m.mask].mean() < 0.03


def test_clean_set_and_votes() -> None:
    clean = _combined("clean", 0.0)
    assert clean.suspicious_classes_ == []
    assert not clean.flagged_.any()
    assert set(clean.votes_.values()) == {0}
    poisoned = _combined("badnets", 0.1)
    votes = poisoned.votes_[TARGET_CLASS]
    assert votes == sum(TARGET_CLASS in d.suspicious_classes_ for d in poisoned.members_.values())
    strict = _combined("badnets", 0.1, min_votes=len(DATA_DETECTORS))
    assert strict.suspicious_classes_ == ([TARGET_CLASS] if votes == 4 else [])


def test_fit_is_merge_of_fitted_members() -> None:
    m = poisoned_model("blended", 0.05)
    fit = CombinedDetector(members=("spectral", "robust")).fit(m.target, m.x, m.y)
    two = {n: _members("blended", 0.05)[n] for n in ("spectral", "robust")}
    merged = CombinedDetector().merge(two, m.y)
    np.testing.assert_array_equal(fit.scores_, merged.scores_)
    assert fit.chosen_ == merged.chosen_


def test_bad_options() -> None:
    m = poisoned_model("clean", 0.0)
    with pytest.raises(InputError, match="unknown"):
        CombinedDetector(members=("spectral", "nope")).fit(m.target, m.x, m.y)
    with pytest.raises(InputError, match="min_votes"):
        CombinedDetector(min_votes=5).fit(m.target, m.x, m.y)
