"""``Attack.perturb``: the training loop's path. The same examples as a full call that
attacks every sample, inside the eps ball and the bounds, without the final forward."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
import torch

from redline.attacks import PGD
from redline.attacks._geometry import lp_norm
from redline.errors import InputError

if TYPE_CHECKING:
    from tests.conftest import Trained


@pytest.mark.parametrize(("norm", "eps"), [("linf", 0.1), ("l2", 1.0)])
def test_perturb_matches_a_full_call_on_every_sample(
    digits_cnn: Trained, norm: str, eps: float
) -> None:
    x, y, target = digits_cnn.x[:64], digits_cnn.y[:64], digits_cnn.target
    attack = PGD(norm=norm, eps=eps, steps=5, early_stop=False, seed=3)  # type: ignore[arg-type]
    before = target.usage.snapshot()
    x_adv = attack.perturb(target, x, y)
    used = target.usage.since(before)
    assert used.forward == 5 * 64 and used.backward == 5 * 64  # no clean check, no final pass
    full = attack(target, x, y, assume_correct=True)
    assert torch.equal(x_adv, full.x_adv)
    assert float(lp_norm(x_adv - x, norm).max()) <= eps + 1e-5  # type: ignore[arg-type]
    assert float(x_adv.min()) >= 0.0 and float(x_adv.max()) <= 1.0
    acc = float((target.predict(x_adv) == y).float().mean())
    assert acc < float((target.predict(x) == y).float().mean()) - 0.2  # it is an attack


def test_perturb_checks_its_inputs(digits_cnn: Trained) -> None:
    with pytest.raises(InputError, match="inside the bounds"):
        PGD(eps=0.1).perturb(digits_cnn.target, digits_cnn.x[:4] + 2.0, digits_cnn.y[:4])
