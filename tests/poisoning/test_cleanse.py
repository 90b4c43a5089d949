"""Neural Cleanse: verdicts on clean and backdoored digits models, bounds, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tests.poisoning._models import BackdooredModel, digits_model

from redline import TorchTarget
from redline.errors import InputError
from redline.poisoning.detection.cleanse import NeuralCleanse, log_mad_anomaly, mad_anomaly


def _fit(model: BackdooredModel) -> NeuralCleanse:
    """Default Neural Cleanse on half the held-out digits (180 clean samples, all classes)."""
    return NeuralCleanse().fit(model.target, model.x_test[:180], model.y_test[:180])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clean_models_stay_far_below_a_backdoor(seed: int) -> None:
    """Known limit: the paper's cut at anomaly index 2.0 flags a clean class on 1 of the 21
    clean models measured (training seeds 0-6 x 3 kernels: class 3 at 2.22, seed 4 with
    ``ATEN_CPU_CAPABILITY=default``), so no test can promise an empty verdict. What holds:
    every clean index stays below 3.0 (worst 2.22), under a real backdoor's (worst 5.7)."""
    nc = _fit(digits_model("clean", seed))
    assert nc.anomaly_index_.max() < 3.0
    assert all(nc.anomaly_index_[c] > 2.0 for c in nc.flagged_classes_)
    # every class still got a working trigger: the verdict is not "nothing converged"
    assert (nc.attack_success_ > 0.85).all()  # worst over 5 seeds x 3 kernels: 0.92


@pytest.mark.parametrize(("attack", "target_class"), [("badnets", 0), ("blended", 3)])
def test_backdoored_models_name_the_target_class(attack: str, target_class: int) -> None:
    model = digits_model(attack)
    assert model.attack_success > 0.9  # the backdoor is real (worst 0.975)
    nc = _fit(model)
    # worst over 5 seeds x 3 kernels: index 5.7, mask 0.40 of the median, trigger ASR 0.95
    assert nc.flagged_classes_ == [target_class]
    assert nc.anomaly_index_[target_class] > 3.0
    assert nc.mask_norms_[target_class] < 0.5 * np.median(nc.mask_norms_)
    assert nc.attack_success_[target_class] > 0.9


def test_shapes_bounds_and_weights_untouched() -> None:
    model = digits_model("clean")
    module = model.target.module
    squeezed = TorchTarget(module, bounds=(0.2, 0.8))
    grads = [None if p.grad is None else p.grad.clone() for p in module.parameters()]
    nc = NeuralCleanse(steps=20).fit(squeezed, model.x_test[:100], model.y_test[:100])
    assert nc.masks_.shape == (10, 1, 8, 8)
    assert nc.patterns_.shape == (10, 1, 8, 8)
    assert nc.masks_.min() >= 0.0 and nc.masks_.max() <= 1.0
    assert nc.patterns_.min() >= 0.2 and nc.patterns_.max() <= 0.8
    np.testing.assert_allclose(nc.mask_norms_, nc.masks_.reshape(10, -1).sum(1), rtol=1e-5)
    # no backward pass over the weights: their .grad (left over from training) is untouched
    for p, before in zip(module.parameters(), grads, strict=True):
        assert p.requires_grad
        if before is None:
            assert p.grad is None
        else:
            assert p.grad is not None and torch.equal(p.grad, before)
    assert not module.training


def test_same_seed_same_triggers() -> None:
    model = digits_model("clean")
    x, y = model.x_test[:100], model.y_test[:100]
    a = NeuralCleanse(steps=30, seed=3).fit(model.target, x, y)
    b = NeuralCleanse(steps=30, seed=3).fit(model.target, x, y)
    c = NeuralCleanse(steps=30, seed=4).fit(model.target, x, y)
    np.testing.assert_array_equal(a.masks_, b.masks_)
    np.testing.assert_array_equal(a.patterns_, b.patterns_)
    np.testing.assert_array_equal(a.anomaly_index_, b.anomaly_index_)
    assert not np.array_equal(a.masks_, c.masks_)


def test_mad_anomaly_index_and_spread_floor() -> None:
    norms = np.array([10.0, 10.2, 9.8, 10.1, 9.9, 8.0])
    median, mad = 9.95, 1.4826 * 0.15
    raw = mad_anomaly(norms)
    np.testing.assert_allclose(raw, (median - norms) / mad)
    assert raw[-1] > 2  # the paper's index calls a mask 20% smaller an outlier ...
    floored = mad_anomaly(norms, min_spread=0.15)
    np.testing.assert_allclose(floored, (median - norms) / (0.15 * median))
    assert floored[-1] < 2  # ... the floored one does not
    assert mad_anomaly(np.array([10.0, 10.0, 10.0, 2.0]), min_spread=0.15)[-1] > 2


def test_log_scale_index_sees_a_five_times_smaller_mask() -> None:
    """Norms measured on a BadNets 16x16 MNIST CNN: the target's mask is 5x smaller than
    the median, but one wide clean class inflates the raw MAD."""
    norms = np.array([5.3, 44.8, 28.2, 18.2, 36.9, 28.3, 17.2, 25.2, 24.4, 38.3])
    assert mad_anomaly(norms, min_spread=0.15)[0] < 2.0
    logged = log_mad_anomaly(norms, min_spread=0.15)
    assert logged[0] > 3.0 and (logged[1:] < 2.0).all()
    assert (np.abs(log_mad_anomaly(norms * 7.0) - log_mad_anomaly(norms)) < 1e-9).all()
    close = np.array([10.0, 10.2, 9.8, 10.1, 9.9, 8.0])  # 20% smaller: floored, no alarm
    assert log_mad_anomaly(close, min_spread=0.15)[-1] < 2.0


def test_bad_input_is_named() -> None:
    model = digits_model("clean")
    x, y = model.x_test, model.y_test
    with pytest.raises(InputError, match="at least 30 clean samples"):
        NeuralCleanse().fit(model.target, x[:20], y[:20])
    keep = y != 7
    with pytest.raises(InputError, match=r"no sample of class\(es\) \[7\]"):
        NeuralCleanse().fit(model.target, x[keep], y[keep])
    with pytest.raises(InputError, match=r"labels outside 0\.\.9"):
        NeuralCleanse().fit(model.target, x, np.where(y == 0, 12, y))
    with pytest.raises(InputError, match="needs images"):
        NeuralCleanse().fit(model.target, x.reshape(len(x), -1), y)
    with pytest.raises(InputError, match="359 samples but y_clean has 358"):
        NeuralCleanse().fit(model.target, x, y[:-1])
    with pytest.raises(InputError, match="steps and batch_size"):
        NeuralCleanse(steps=0).fit(model.target, x, y)
    with pytest.raises(InputError, match="min_spread"):
        NeuralCleanse(min_spread=1.0).fit(model.target, x, y)
    with pytest.raises(InputError, match="lr, init_cost"):
        NeuralCleanse(lr=-1.0).fit(model.target, torch.as_tensor(x), torch.as_tensor(y))
