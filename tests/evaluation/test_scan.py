"""The scan end to end on small seeded models: numbers consistent, input errors clear."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
import torch

from redline import CallableTarget, TorchTarget
from redline.errors import InputError
from redline.evaluation import ScanResult, scan
from redline.zoo import small_cnn

if TYPE_CHECKING:
    from tests.conftest import Trained


def test_numbers_are_consistent(digits_scan: ScanResult, digits_cnn: Trained) -> None:
    r = digits_scan
    n = r.data.n_samples
    pred = digits_cnn.target.predict(digits_cnn.x[:n])
    assert r.clean.accuracy.correct == int((pred == digits_cnn.y[:n]).sum())
    accs = [e.robust.value for e in r.eps]
    assert accs == sorted(accs, reverse=True)
    assert accs[-1] < accs[0] < r.clean.accuracy.value
    for e in r.eps:
        broken = sum(e.broken_by.values())
        assert e.robust.correct == r.clean.accuracy.correct - broken
        assert e.robust.ci.low <= e.robust.value <= e.robust.ci.high
        assert sum(g.accuracy.n for g in e.per_class) == n
        assert set(e.broken_by) <= {"apgd-ce", "apgd-t", "square", "fmn"}
    assert len(r.samples.label) == n and len(r.samples.broken_by) == len(r.eps)


def test_minimal_curve_is_an_upper_bound_of_the_suite(digits_scan: ScanResult) -> None:
    m = digits_scan.minimal
    assert m is not None and m.found > 0.9 * m.attacked
    curve = {round(p.eps, 9): p.accuracy for p in m.curve}
    assert m.curve[0].accuracy == pytest.approx(digits_scan.clean.accuracy.value)
    dist = np.array([d if d is not None else np.inf for d in digits_scan.samples.min_distance])
    for e in digits_scan.eps:
        from_curve = float((dist > e.eps).mean())
        assert e.robust.value <= from_curve + 1e-9
    assert all(0.0 <= a <= 1.0 for a in curve.values())


def test_examples_are_real_adversarials(digits_scan: ScanResult, digits_cnn: Trained) -> None:
    assert digits_scan.examples
    for ex in digits_scan.examples:
        adv = torch.tensor([ex.adversarial], dtype=torch.float32)
        clean = torch.tensor([ex.clean], dtype=torch.float32)
        assert float((adv - clean).abs().max()) <= ex.eps + 1e-3
        assert ex.adv_pred != ex.label and ex.clean_pred == ex.label
        # values are rounded to 4 decimals in JSON: the prediction must survive that
        assert int(digits_cnn.target.predict(adv)[0]) == ex.adv_pred


def test_same_seed_same_result(digits_cnn: Trained) -> None:
    kw = {"threat": "linf:0.1", "suite": "fgsm,pgd", "check_samples": 20}
    a = scan(digits_cnn.target, digits_cnn.x[:40], digits_cnn.y[:40], **kw)  # type: ignore[arg-type]
    b = scan(digits_cnn.target, digits_cnn.x[:40], digits_cnn.y[:40], **kw)  # type: ignore[arg-type]
    assert a.samples == b.samples and a.eps[0].robust == b.eps[0].robust
    assert a.minimal == b.minimal.model_copy(update={"seconds": a.minimal.seconds})  # type: ignore[union-attr]


def test_batches_stream_without_changing_clean_numbers(digits_cnn: Trained) -> None:
    kw = {"threat": "linf:0.1", "suite": "fgsm", "checks": False, "minimal": False}
    small = scan(digits_cnn.target, digits_cnn.x[:50], digits_cnn.y[:50], batch_size=7, **kw)  # type: ignore[arg-type]
    big = scan(digits_cnn.target, digits_cnn.x[:50], digits_cnn.y[:50], batch_size=64, **kw)  # type: ignore[arg-type]
    # Counts are exact; confidences come from kernels whose float sums depend on the batch
    # split (and on the thread count), so calibration agrees to float precision only.
    assert small.clean.accuracy == big.clean.accuracy
    assert small.clean.per_class == big.clean.per_class
    assert small.clean.ece == pytest.approx(big.clean.ece, abs=1e-5)
    assert small.clean.reliability.count == big.clean.reliability.count
    assert small.clean.reliability.confidence == pytest.approx(
        big.clean.reliability.confidence, abs=1e-5
    )
    assert small.eps[0].robust == big.eps[0].robust  # FGSM has no randomness


def test_slices_and_class_names(digits_cnn: Trained) -> None:
    groups = np.where(np.arange(40) % 2 == 0, "even", "odd")
    r = scan(
        digits_cnn.target,
        digits_cnn.x[:40],
        digits_cnn.y[:40],
        threat="linf:0.1",
        suite="fgsm",
        groups=groups,
        class_names=[f"digit {i}" for i in range(10)],
        checks=False,
        minimal=False,
    )
    assert [s.name for s in r.clean.per_slice] == ["even", "odd"]
    assert sum(s.accuracy.n for s in r.eps[0].per_slice) == 40
    assert r.clean.per_class[0].name.startswith("digit ")
    assert r.data.groups == ["even", "odd"]


def test_black_box_target_scans_with_square(digits_cnn: Trained) -> None:
    module = digits_cnn.module
    target = CallableTarget(lambda x: module(x).detach().numpy())
    r = scan(
        target,
        digits_cnn.x[:30],
        digits_cnn.y[:30],
        threat="linf:0.2",
        suite="square",
        minimal=False,
        check_samples=20,
    )
    assert r.eps[0].robust.value < r.clean.accuracy.value
    statuses = {c.id: c.status for c in r.checks}
    assert statuses["gradients"] == "SKIP" and statuses["black-box-gap"] == "SKIP"
    assert r.cost.queries > 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("labels", "labels go up to 9 but the model outputs 5 classes"),
        ("nan", "NaN"),
        ("bounds", "outside"),
        ("empty", "empty"),
    ],
)
def test_bad_data_is_an_input_error(digits_cnn: Trained, change: str, message: str) -> None:
    x, y = digits_cnn.x[:20].numpy().copy(), digits_cnn.y[:20].numpy().copy()
    target = digits_cnn.target
    if change == "labels":
        target = TorchTarget(small_cnn(num_classes=5))
        y[0] = 9
    elif change == "nan":
        x[3, 0, 2, 2] = np.nan
    elif change == "bounds":
        x = x * 255
    else:
        x, y = x[:0], y[:0]
    with pytest.raises(InputError, match=message) as info:
        scan(target, x, y, threat="linf:0.1", suite="fgsm")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"threat": "linf:0"}, "eps must be > 0"),
        ({"threat": "l3:0.1"}, "norm must be one of"),
        ({"threat": "linf"}, "needs eps"),
        ({"threat": "linf:0.1", "eps": [0.2]}, "either in the threat string"),
        ({"threat": "linf:0.1", "suite": "pgd,bogus"}, "unknown attack 'bogus'"),
        ({"threat": "linf:0.1", "batch_size": 0}, "batch size"),
    ],
)
def test_bad_settings_fail_before_any_work(
    digits_cnn: Trained, kwargs: dict[str, object], message: str
) -> None:
    before = digits_cnn.target.usage.snapshot()
    with pytest.raises(InputError, match=message):
        scan(digits_cnn.target, digits_cnn.x[:5], digits_cnn.y[:5], **kwargs)  # type: ignore[arg-type]
    assert digits_cnn.target.usage.since(before).forward == 0


def test_model_left_as_found(digits_cnn: Trained) -> None:
    digits_cnn.module.train()
    try:
        scan(
            digits_cnn.target,
            digits_cnn.x[:10],
            digits_cnn.y[:10],
            threat="linf:0.1",
            suite="fgsm",
            minimal=False,
            checks=False,
        )
        assert digits_cnn.module.training
        assert all(p.requires_grad for p in digits_cnn.module.parameters())
    finally:
        digits_cnn.module.eval()
