"""Carlini-Wagner L2: validity, strength, binary search, determinism, torchattacks peer."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from redline.attacks._base import AttackResult
from redline.attacks._geometry import lp_norm, within
from redline.attacks._losses import margin
from redline.attacks.cw import CarliniWagner, _Adam
from redline.errors import InputError

N_DIGITS = 100
"""Digits test samples used by the heavier tests (keeps the file at a few seconds)."""

FAST: dict[str, Any] = {"binary_search_steps": 5, "steps": 100, "lr": 0.05}
"""A 500-gradient budget per sample: enough for ~100% success on the digits CNN."""


def _digits(fixture: Any) -> tuple[torch.Tensor, torch.Tensor]:
    return fixture.x[:N_DIGITS], fixture.y[:N_DIGITS]


@pytest.fixture(scope="module")
def digits_run(digits_cnn: Any) -> AttackResult:
    """One unconstrained CW run on the digits subset, shared by several tests."""
    x, y = _digits(digits_cnn)
    return CarliniWagner(**FAST)(digits_cnn.target, x, y)


def _assert_valid(result: AttackResult, x: torch.Tensor, bounds: tuple[float, float]) -> None:
    assert torch.isfinite(result.x_adv).all()
    assert result.x_adv.min() >= bounds[0] and result.x_adv.max() <= bounds[1]
    assert torch.allclose(result.distances, lp_norm(result.x_adv - x, "l2"))


def test_declares_a_minimum_norm_l2_attack() -> None:
    attack = CarliniWagner()
    assert attack.name == "cw" and attack.norm == "l2" and attack.eps is None
    assert CarliniWagner.norms == ("l2",) and CarliniWagner.minimum_norm
    assert attack.params()["binary_search_steps"] == 9 and attack.params()["steps"] == 1000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"steps": 0},
        {"binary_search_steps": 0},
        {"confidence": -1.0},
        {"initial_const": 0.0},
        {"lr": -0.1},
        {"eps": 0.0},
    ],
)
def test_rejects_bad_hyper_parameters(kwargs: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        CarliniWagner(**kwargs)


def test_written_out_adam_matches_torch_optim() -> None:
    gen = torch.Generator().manual_seed(0)
    w0 = torch.randn(4, 3, generator=gen)
    grads = [torch.randn(4, 3, generator=gen) for _ in range(5)]
    leaf = w0.clone().requires_grad_(True)
    optim = torch.optim.Adam([leaf], lr=0.05)
    ours, adam, rows = w0.clone(), _Adam(w0, lr=0.05), torch.arange(4)
    for g in grads:
        leaf.grad = g.clone()
        optim.step()
        ours = adam.step(ours, g, rows)
    assert torch.allclose(ours, leaf.detach(), atol=1e-6)


def test_tanh_map_and_its_derivative() -> None:
    w = torch.linspace(-3, 3, 13).requires_grad_(True)
    x_adv, d_dw = CarliniWagner._to_input(w.detach(), (-2.0, 6.0))
    assert x_adv.min() > -2.0 and x_adv.max() < 6.0
    (auto,) = torch.autograd.grad(CarliniWagner._to_input(w, (-2.0, 6.0))[0].sum(), w)
    assert torch.allclose(d_dw, auto)


def test_outputs_are_valid_without_eps(cancer_mlp: Any) -> None:
    x, y = cancer_mlp.x, cancer_mlp.y
    result = CarliniWagner(**FAST)(cancer_mlp.target, x, y)
    _assert_valid(result, x, cancer_mlp.target.bounds)
    clean = cancer_mlp.target.predict(x) == y
    assert result.success[clean].float().mean() >= 0.99


def test_breaks_the_undefended_cnn(digits_cnn: Any, digits_run: AttackResult) -> None:
    x, y = _digits(digits_cnn)
    clean = digits_cnn.target.predict(x) == y
    _assert_valid(digits_run, x, digits_cnn.target.bounds)
    assert digits_run.success[clean].float().mean() >= 0.99
    # misclassified inputs are left alone (distance 0), broken ones moved
    assert (digits_run.distances[~clean] == 0).all()
    assert (digits_run.distances[clean & digits_run.success] > 0).all()


def test_eps_projects_and_keeps_every_example_already_inside(
    digits_cnn: Any, digits_run: AttackResult
) -> None:
    x, y = _digits(digits_cnn)
    eps = float(digits_run.distances[digits_run.success].median())
    bounded = CarliniWagner(eps=eps, **FAST)(digits_cnn.target, x, y)
    _assert_valid(bounded, x, digits_cnn.target.bounds)
    assert within(x, bounded.x_adv, "l2", eps, digits_cnn.target.bounds).all()
    inside = digits_run.success & (digits_run.distances <= eps)
    assert bounded.success[inside].all()  # deterministic: the same examples, unprojected
    assert 0.2 < bounded.robust_accuracy < 0.8


def test_confidence_buys_a_margin(digits_cnn: Any, digits_run: AttackResult) -> None:
    x, y = _digits(digits_cnn)
    x, y = x[:30], y[:30]
    kappa = 2.0
    result = CarliniWagner(confidence=kappa, **FAST)(digits_cnn.target, x, y)
    moved = result.distances > 0
    assert moved.float().mean() > 0.9
    assert (margin(result.logits[moved], y[moved]) > kappa - 1e-3).all()
    plain = digits_run.distances[:30]
    assert result.distances[moved].median() > plain[moved].median()


def test_failed_samples_come_back_unchanged(digits_cnn: Any) -> None:
    x, y = _digits(digits_cnn)
    weak = CarliniWagner(binary_search_steps=1, steps=10, initial_const=1e-3)
    result = weak(digits_cnn.target, x, y)
    failed = ~result.success
    assert failed.sum() > 50
    assert torch.equal(result.x_adv[failed], x[failed])


def test_binary_search_raises_c_until_samples_break(
    digits_cnn: Any, digits_run: AttackResult
) -> None:
    x, y = _digits(digits_cnn)
    x, y = x[:30], y[:30]
    one = CarliniWagner(binary_search_steps=1, steps=100, lr=0.05)(digits_cnn.target, x, y)
    # c stuck at 1e-2 breaks few samples; five search steps (x10 each) break them all
    assert digits_run.success[:30].float().mean() > one.success.float().mean() + 0.5


def test_early_abort_saves_passes(digits_cnn: Any, digits_run: AttackResult) -> None:
    x, y = _digits(digits_cnn)
    n_clean = int((digits_cnn.target.predict(x) == y).sum())
    budget = FAST["binary_search_steps"] * FAST["steps"]
    assert digits_run.backward < 0.98 * n_clean * budget
    full = CarliniWagner(binary_search_steps=2, steps=20, abort_early=False)
    result = full(digits_cnn.target, x[:10], y[:10])
    assert result.backward == int((digits_cnn.target.predict(x[:10]) == y[:10]).sum()) * 40


def test_same_seed_same_output(cancer_mlp: Any) -> None:
    x, y = cancer_mlp.x[:60], cancer_mlp.y[:60]
    a = CarliniWagner(binary_search_steps=3, steps=50, seed=3)(cancer_mlp.target, x, y)
    b = CarliniWagner(binary_search_steps=3, steps=50, seed=3)(cancer_mlp.target, x, y)
    assert torch.equal(a.x_adv, b.x_adv)


@pytest.mark.peer
def test_binary_search_beats_torchattacks_fixed_c(
    digits_cnn: Any, digits_run: AttackResult
) -> None:
    torchattacks = pytest.importorskip("torchattacks")
    x, y = _digits(digits_cnn)
    # same budget (500 Adam steps per sample), same lr; torchattacks has one fixed c
    peer = torchattacks.CW(digits_cnn.module, c=1.0, kappa=0, steps=500, lr=FAST["lr"])
    x_peer = peer(x, y)
    with torch.no_grad():
        peer_success = digits_cnn.module(x_peer).argmax(dim=1) != y
    peer_norms = lp_norm(x_peer - x, "l2")
    clean = digits_cnn.target.predict(x) == y
    ours_ok, peer_ok = digits_run.success & clean, peer_success & clean
    assert ours_ok.float().sum() >= peer_ok.float().sum()
    ours_median = float(digits_run.distances[ours_ok].median())
    peer_median = float(peer_norms[peer_ok].median())
    assert ours_median <= 1.05 * peer_median
