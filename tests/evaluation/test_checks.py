"""Each sanity check is tripped by a model (or suite) built to trip it, and passes otherwise."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

import pytest
import torch
from torch import nn

from redline import TorchTarget
from redline.attacks import PGD, Adversarial, Attack
from redline.evaluation import ScanResult, Suite, scan
from redline.targets import Target

if TYPE_CHECKING:
    from tests.conftest import Trained

EPS = [0.05, 0.1, 0.2]


class Binarized(nn.Module):
    """Input binarisation: a classic defence that only shatters gradients."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner((x > 0.5).float())


class NaNGrad(nn.Module):
    """Finite outputs, NaN gradients (sqrt at zero)."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) + 0 * torch.sqrt(x - x).sum(dim=(1, 2, 3))[:, None]


class Noisy(nn.Module):
    """A randomised defence: noise on the logits at every call."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.inner(x)
        return logits + 3.0 * logits.std() * torch.randn_like(logits)


class Unprojected(Attack):
    """A buggy plug-in attack that forgets the eps ball (and its base projection)."""

    name = "unprojected"

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        assert self.eps is not None
        return Adversarial((x + 3 * self.eps).clamp(*target.bounds))

    def _enforce(self, target: Target, x: torch.Tensor, x_adv: torch.Tensor) -> torch.Tensor:
        return x_adv


def _suite(name: str, *factories: object) -> Suite:
    return Suite(name, "test suite", tuple(factories))  # type: ignore[arg-type]


def _scan(
    target: TorchTarget, data: Trained, suite: str | Suite, n: int = 60, **kw: object
) -> ScanResult:
    return scan(
        target,
        data.x[:n],
        data.y[:n],
        threat="linf",
        eps=kw.pop("eps", EPS),  # type: ignore[arg-type]
        suite=suite,
        minimal=False,
        check_samples=n,
        **kw,
    )  # type: ignore[arg-type]


def _status(result: ScanResult, check_id: str) -> str:
    return next(c.status for c in result.checks if c.id == check_id)


MASKED_PGD = _suite("masked-pgd", partial(PGD, random_start=False, steps=10))


@pytest.fixture(scope="module")
def binarized(digits_cnn: Trained) -> TorchTarget:
    return TorchTarget(Binarized(digits_cnn.module))


def test_undefended_model_passes_every_check(digits_scan: ScanResult) -> None:
    assert {c.status for c in digits_scan.checks} <= {"PASS"}, [
        (c.id, c.status, c.summary) for c in digits_scan.checks
    ]
    assert len(digits_scan.checks) == 8


def test_zero_gradients_fail(binarized: TorchTarget, digits_cnn: Trained) -> None:
    result = _scan(binarized, digits_cnn, MASKED_PGD)
    assert _status(result, "gradients") == "FAIL"
    evidence = next(c for c in result.checks if c.id == "gradients").evidence
    assert evidence["zero"] == evidence["points"]


def test_nan_gradients_fail(digits_cnn: Trained) -> None:
    result = _scan(TorchTarget(NaNGrad(digits_cnn.module)), digits_cnn, "pgd", n=30)
    check = next(c for c in result.checks if c.id == "gradients")
    assert check.status == "FAIL" and check.evidence["non_finite"] > 0
    assert check.fix is not None


def test_randomised_forward_fails_then_warns_with_eot(digits_cnn: Trained) -> None:
    torch.manual_seed(0)
    noisy = Noisy(digits_cnn.module)
    assert _status(_scan(TorchTarget(noisy), digits_cnn, "fgsm", n=40), "determinism") == "FAIL"
    with_eot = _scan(TorchTarget(noisy, eot=4), digits_cnn, "fgsm", n=40)
    assert _status(with_eot, "determinism") == "WARN"


def test_masked_model_fails_unbounded_sweep(binarized: TorchTarget, digits_cnn: Trained) -> None:
    check = next(c for c in _scan(binarized, digits_cnn, MASKED_PGD).checks if c.id == "eps-sweep")
    assert check.status == "FAIL"
    assert check.evidence["accuracy_unbounded"] > check.evidence["chance"]


def test_unconverged_suite_fails_convergence(digits_cnn: Trained) -> None:
    weak = _suite("weak", partial(PGD, steps=2, step_size=0.005, random_start=False))
    result = _scan(digits_cnn.target, digits_cnn, weak, eps=[0.1, 0.2])
    check = next(c for c in result.checks if c.id == "convergence")
    assert check.status == "FAIL" and check.evidence["newly_broken"] > 3


def test_blackbox_beating_whitebox_fails(binarized: TorchTarget, digits_cnn: Trained) -> None:
    result = _scan(binarized, digits_cnn, MASKED_PGD, eps=[0.2, 0.3])
    check = next(c for c in result.checks if c.id == "black-box-gap")
    assert check.status == "FAIL" and check.evidence["blackbox_only"] > 0


def test_single_step_beating_iterative_fails(digits_cnn: Trained) -> None:
    timid = _suite("timid", partial(PGD, steps=3, step_size=0.001, random_start=False))
    assert _status(_scan(digits_cnn.target, digits_cnn, timid), "single-step") == "FAIL"


def test_noise_beating_attack_fails(binarized: TorchTarget, digits_cnn: Trained) -> None:
    result = _scan(binarized, digits_cnn, MASKED_PGD, eps=[0.3])
    check = next(c for c in result.checks if c.id == "noise")
    assert check.status == "FAIL" and check.evidence["broken"] > 0


def test_unprojected_attack_fails_validity(digits_cnn: Trained) -> None:
    result = _scan(digits_cnn.target, digits_cnn, _suite("buggy", Unprojected), n=30)
    check = next(c for c in result.checks if c.id == "validity")
    assert check.status == "FAIL" and check.evidence["violations"] > 0
