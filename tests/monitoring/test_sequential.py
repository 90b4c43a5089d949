"""Sequential drift detectors: run length without drift near the ERT, fast detection of a
1-sigma shift, seeded thresholds, the statistics themselves, bad input.

The figures asserted below are not from trained models (no kernel dependence beyond
float sums), but their bounds were still set over ``REDLINE_TEST_SEED`` 0..4 x the three
kernel settings of CONTRIBUTING.md; the worst value is written next to each bound.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import cramervonmises_2samp
from tests.conftest import seeded

from redline.errors import InputError
from redline.monitoring import SequentialCVM, SequentialDetector, SequentialMMD

DETECTORS = {"cvm": SequentialCVM, "mmd": SequentialMMD}


def _make(name: str, **kwargs: object) -> SequentialDetector:
    detector: SequentialDetector = DETECTORS[name](**kwargs)  # type: ignore[arg-type]
    return detector


def _run_length(detector: SequentialDetector, rng: np.random.Generator, cap: int) -> int:
    """Updates until the first alarm on a null stream (``cap`` if none)."""
    detector.reset()
    d = detector.n_features_in_
    for x in rng.normal(size=(cap, d)):
        state = detector.update(x)
        if state.detected:
            return state.time
    return cap


@pytest.mark.parametrize("name", ["cvm", "mmd"])
def test_mean_run_length_without_drift_is_near_the_ert(name: str) -> None:
    """ERT 50, window 10: 24 references (each its own fit) x 25 null streams. The run
    length of one fitted detector varies around the ERT (its reference and first window
    fall one way or the other), so the mean is taken over fits as well as streams."""
    ert, lengths = 50, []
    for ref_seed in range(24):
        rng = np.random.default_rng(seeded(100 + ref_seed))
        reference = rng.normal(size=(1000, 2))
        detector = _make(name, ert=ert, window=10, n_bootstraps=2000, random_state=ref_seed)
        detector.fit(reference)
        lengths += [_run_length(detector, rng, 40 * ert) for _ in range(25)]
    ratio = float(np.mean(lengths)) / ert
    # worst over 5 seeds x 3 kernels (ratio low / high): cvm 1.001 / 1.044, mmd 1.013 / 1.074
    assert 0.8 <= ratio <= 1.2, ratio


def test_correlated_features_keep_the_ert() -> None:
    """Four copies of one feature: a per-feature split of the false-alarm rate (Šidák)
    would assume four independent tests and run four times longer than asked; the
    threshold on the maximum, calibrated on whole rows, does not."""
    ert, lengths = 50, []
    for ref_seed in range(10):
        rng = np.random.default_rng(seeded(200 + ref_seed))
        base = rng.normal(size=(1000, 1))
        detector = SequentialCVM(ert=ert, window=10, n_bootstraps=2000, random_state=ref_seed)
        detector.fit(np.repeat(base, 4, axis=1))
        for _ in range(30):
            detector.reset()
            for x in rng.normal(size=(40 * ert, 1)):
                state = detector.update(np.repeat(x, 4))
                if state.detected:
                    break
            lengths.append(state.time)
    ratio = float(np.mean(lengths)) / ert
    # worst over 5 seeds x 3 kernels: 1.052 / 1.082
    assert 0.75 <= ratio <= 1.25, ratio


@pytest.mark.parametrize("name", ["cvm", "mmd"])
def test_a_one_sigma_shift_is_detected_within_a_short_delay(name: str) -> None:
    """ERT 500, window 20: a 1-sigma mean shift of the first of 3 features from the first
    update is found within a few windows (median over 20 streams)."""
    rng = np.random.default_rng(seeded(300))
    detector = _make(name, ert=500, window=20, n_bootstraps=5000, random_state=seeded(0))
    detector.fit(rng.normal(size=(1500, 3)))
    delays = []
    for _ in range(20):
        detector.reset()
        for x in rng.normal(size=(2000, 3)) + np.array([1.0, 0.0, 0.0]):
            state = detector.update(x)
            if state.detected:
                break
        delays.append(state.time)
    # worst over 5 seeds x 3 kernels: median delay cvm 17, mmd 17.5; slowest cvm 47, mmd 64
    assert np.median(delays) <= 40, delays
    assert max(delays) <= 100, delays
    if name == "cvm":
        assert state.feature == 0


@pytest.mark.parametrize("name", ["cvm", "mmd"])
def test_same_seed_same_thresholds_and_runs(name: str) -> None:
    """Seeded: the same ``random_state`` gives the same thresholds and, through resets
    (each draws a new first window), the same statistics; another seed does not."""
    rng = np.random.default_rng(0)
    reference, stream = rng.normal(size=(400, 2)), rng.normal(size=(30, 2))
    a = _make(name, ert=30, window=8, n_bootstraps=1000, random_state=7).fit(reference)
    b = _make(name, ert=30, window=8, n_bootstraps=1000, random_state=7).fit(reference)
    c = _make(name, ert=30, window=8, n_bootstraps=1000, random_state=8).fit(reference)
    assert np.array_equal(a.thresholds_, b.thresholds_)
    assert not np.array_equal(a.thresholds_, c.thresholds_)
    runs = []
    for detector in (a, b):
        stats = [detector.update(x).statistic for x in stream]
        detector.reset()
        assert detector.time_ == 0
        stats += [detector.update(x).statistic for x in stream]
        runs.append(stats)
    assert runs[0] == runs[1]
    assert runs[0][:30] != runs[0][30:]  # a fresh first window after the reset
    assert a.update(stream[0]).time == len(stream) + 1


def test_thresholds_fall_to_a_constant_once_the_window_is_new() -> None:
    """The first steps (window still holding held-out reference rows) get their own
    thresholds; from step ``window`` on there is one, pooled."""
    rng = np.random.default_rng(1)
    detector = SequentialCVM(ert=40, window=8, n_bootstraps=2000).fit(rng.normal(size=(500, 1)))
    thr = detector.thresholds_
    assert len(thr) == 2 * 8 + 1
    assert np.all(thr[8:] == thr[8])
    assert thr[0] > thr[8]
    assert detector.events_ >= 25


def test_cvm_statistic_is_scipys_standardised() -> None:
    rng = np.random.default_rng(2)
    reference = rng.normal(size=(300, 1))
    detector = SequentialCVM(ert=20, window=10, n_bootstraps=1000).fit(reference)
    stream = rng.normal(size=(10, 1)) + 0.5
    for x in stream:
        state = detector.update(x)
    n, w = detector.n_reference_, 10
    raw = cramervonmises_2samp(detector.sorted_reference_[:, 0], stream[:, 0]).statistic
    big = n + w
    mean = 1 / 6 + 1 / (6 * big)
    var = (big + 1) * (4 * n * w * big - 3 * (n * n + w * w) - 2 * n * w) / (180 * big**2 * n * w)
    assert state.statistic == pytest.approx((raw - mean) / np.sqrt(var), rel=1e-9)


def test_mmd_statistic_is_the_unbiased_estimate() -> None:
    rng = np.random.default_rng(3)
    detector = SequentialMMD(ert=20, window=6, n_bootstraps=1000).fit(rng.normal(size=(200, 3)))
    stream = rng.normal(size=(6, 3))
    for x in stream:
        state = detector.update(x)
    x, y = detector.reference_, torch.as_tensor(stream)
    gamma = 1.0 / (2 * detector.sigma_**2)
    kxx, kyy = (
        torch.exp(-gamma * torch.cdist(x, x) ** 2),
        torch.exp(-gamma * torch.cdist(y, y) ** 2),
    )
    kxy = torch.exp(-gamma * torch.cdist(x, y) ** 2)
    m, w = len(x), len(y)
    expected = (
        (kxx.sum() - kxx.trace()) / (m * (m - 1))
        + (kyy.sum() - kyy.trace()) / (w * (w - 1))
        - 2 * kxy.mean()
    )
    assert state.statistic == pytest.approx(float(expected), abs=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "n", "match"),
    [
        ({"ert": 1, "window": 10}, 500, "ert > 1"),
        ({"ert": 50, "window": 1}, 500, "window >= 2"),
        ({"ert": 50, "window": 10, "horizon": 5}, 500, "horizon >= window"),
        ({"ert": 50, "window": 10}, 40, "at least 50"),
        ({"ert": 5000, "window": 10, "n_bootstraps": 200}, 500, "n_bootstraps is too small"),
    ],
)
def test_bad_settings_are_one_line_errors(kwargs: dict[str, float], n: int, match: str) -> None:
    reference = np.random.default_rng(0).normal(size=(n, 2))
    with pytest.raises(InputError, match=match):
        SequentialCVM(**kwargs).fit(reference)  # type: ignore[arg-type]


def test_bad_input_is_refused() -> None:
    detector = SequentialMMD(ert=20, window=5, n_bootstraps=500)
    with pytest.raises(InputError, match="not fitted"):
        detector.update(np.zeros(2))
    with pytest.raises(InputError, match="NaN"):
        detector.fit(np.full((100, 2), np.nan))
    with pytest.raises(InputError, match="all equal"):
        detector.fit(np.ones((100, 2)))
    detector.fit(np.random.default_rng(0).normal(size=(100, 2)))
    with pytest.raises(InputError, match="one sample of 2 features"):
        detector.update(np.zeros((2, 2)))
    with pytest.raises(InputError, match="one sample of 2 features"):
        detector.update(np.zeros(3))
