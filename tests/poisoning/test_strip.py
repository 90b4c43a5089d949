"""STRIP: rejection of triggered inputs at a fixed false-rejection rate, and its contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score
from tests.poisoning._models import BackdooredModel, apply_trigger, digits_model

from redline.errors import InputError
from redline.poisoning.detection.strip import STRIP


def _split(model: BackdooredModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clean inputs to fit on, held-out clean inputs, and triggered held-out inputs."""
    x, y = model.x_test, model.y_test
    held, held_y = x[180:], y[180:]
    attack = model.attack if model.attack != "clean" else "badnets"
    return x[:180], held, apply_trigger(attack, held[held_y != model.target_class])


def _auroc(clean: np.ndarray, triggered: np.ndarray) -> float:
    labels = np.r_[np.zeros(len(clean)), np.ones(len(triggered))]
    return float(roc_auc_score(labels, np.r_[clean, triggered]))


def test_known_limit_badnets_far_at_one_percent_frr() -> None:
    """Known limit: at the 1% FRR threshold the share of BadNets inputs let through (FAR)
    is 0.01 on today's seed but 0.07-0.91 on the four others (every kernel, backdoor ASR
    >= 0.97 each time): the corner patch's entropy drop on this 8x8 CNN sits right at the
    clean 1% quantile for some seeds. What holds over 5 seeds x 3 kernels: the ranking
    (worst AUROC 0.878), held-out clean rejections near the 1% asked (worst 0.022), and at
    least 9% of triggered inputs rejected, 15x the clean rate."""
    model = digits_model("badnets")
    fit_x, clean, triggered = _split(model)
    strip = STRIP().fit(model.target, fit_x)
    assert strip.predict(triggered).mean() > 0.05
    assert strip.predict(clean).mean() < 0.05
    assert _auroc(strip.score(clean), strip.score(triggered)) > 0.85


def test_blended_triggers_rank_above_clean_inputs() -> None:
    model = digits_model("blended")
    fit_x, clean, triggered = _split(model)
    strip = STRIP().fit(model.target, fit_x)
    # worst over 5 seeds x 3 kernels: AUROC 0.982, 0.82 of triggered inputs rejected
    assert _auroc(strip.score(clean), strip.score(triggered)) > 0.95
    assert strip.predict(triggered).mean() > 0.5


def test_patch_alone_is_not_rejected_on_a_clean_model() -> None:
    """The score reacts to a backdoor, not to the patch being unusual."""
    model = digits_model("clean")
    fit_x, clean, patched = _split(model)
    strip = STRIP().fit(model.target, fit_x)
    # worst over 5 seeds x 3 kernels: 0.073 of patched inputs rejected, AUROC 0.65
    assert strip.predict(patched).mean() < 0.1
    assert _auroc(strip.score(clean), strip.score(patched)) < 0.75


def test_threshold_is_the_frr_quantile_and_predict_is_pure() -> None:
    model = digits_model("badnets")
    fit_x, clean, _ = _split(model)
    strip = STRIP(n_overlays=16, frr=0.1).fit(model.target, fit_x)
    assert strip.overlays_.shape == (16, 1, 8, 8)
    assert len(strip.clean_entropy_) == 180 - 16
    assert strip.threshold_ == pytest.approx(np.quantile(strip.clean_entropy_, 0.1))
    assert (strip.clean_entropy_ < strip.threshold_).mean() == pytest.approx(0.1, abs=0.01)
    before = (strip.overlays_.copy(), strip.threshold_, strip.clean_entropy_.copy())
    scores = strip.score(clean)
    np.testing.assert_array_equal(strip.predict(clean), -scores < strip.threshold_)
    np.testing.assert_allclose(strip.score(torch.as_tensor(clean)), scores)
    np.testing.assert_array_equal(strip.overlays_, before[0])
    assert strip.threshold_ == before[1]
    np.testing.assert_array_equal(strip.clean_entropy_, before[2])
    one_by_one = np.concatenate([strip.score(clean[i : i + 1]) for i in range(5)])
    np.testing.assert_allclose(one_by_one, scores[:5], rtol=1e-6)
    assert strip.predict(clean[:0]).shape == (0,)


def test_same_seed_same_overlays() -> None:
    model = digits_model("badnets")
    fit_x = model.x_test[:180]
    a = STRIP(seed=5).fit(model.target, fit_x)
    b = STRIP(seed=5).fit(model.target, fit_x)
    c = STRIP(seed=6).fit(model.target, fit_x)
    np.testing.assert_array_equal(a.overlays_, b.overlays_)
    assert a.threshold_ == b.threshold_
    np.testing.assert_array_equal(a.score(fit_x[:20]), b.score(fit_x[:20]))
    assert not np.array_equal(a.overlays_, c.overlays_)


def test_bad_input_is_named() -> None:
    model = digits_model("clean")
    x = model.x_test
    for frr in (0.0, 1.0, -0.1):
        with pytest.raises(InputError, match=r"frr must be in \(0, 1\)"):
            STRIP(frr=frr).fit(model.target, x)
    with pytest.raises(InputError, match="n_overlays and batch_size must be >= 1"):
        STRIP(n_overlays=0).fit(model.target, x)
    with pytest.raises(InputError, match="alpha"):
        STRIP(alpha=0.0).fit(model.target, x)
    with pytest.raises(InputError, match="at least n_overlays \\+ 20 = 52 clean samples"):
        STRIP().fit(model.target, x[:40])
    with pytest.raises(InputError, match="not fitted"):
        STRIP().predict(x)
    strip = STRIP().fit(model.target, x[:100])
    with pytest.raises(InputError, match="fitted on inputs of shape"):
        strip.score(x.reshape(len(x), -1))
