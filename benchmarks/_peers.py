"""The peers, configured to do the same work as redline: torchattacks, ART, a raw loop."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

__all__ = [
    "art_pgd",
    "raw_grad_loop",
    "ta_autoattack",
    "ta_autoattack_original",
    "ta_pgd",
]

Runner = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""Takes ``(x, y)``, returns adversarial examples (same shape, same device)."""


def raw_grad_loop(module: nn.Module, passes: int) -> Runner:
    """The floor: ``passes`` forward + input-gradient passes on the same batch, nothing else."""

    def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        module.eval()
        flags = [(p, p.requires_grad) for p in module.parameters()]
        for p, _ in flags:
            p.requires_grad_(False)
        try:
            xg = x.detach().requires_grad_(True)
            for _ in range(passes):
                loss = nn.functional.cross_entropy(module(xg), y)
                torch.autograd.grad(loss, xg)
        finally:
            for p, flag in flags:
                p.requires_grad_(flag)
        return x

    return run


def ta_pgd(
    module: nn.Module, *, eps: float, steps: int, step: float, random_start: bool, seed: int
) -> Runner:
    """torchattacks PGD (Linf, CE); its random start draws from the global torch RNG."""
    import torchattacks

    attack = torchattacks.PGD(module, eps=eps, alpha=step, steps=steps, random_start=random_start)

    def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(seed)
        out: torch.Tensor = attack(x, y)
        return out

    return run


def art_pgd(
    module: nn.Module, *, eps: float, steps: int, step: float, random_init: int, seed: int
) -> Runner:
    """ART ProjectedGradientDescentPyTorch (Linf), the whole batch at once, numpy in/out."""
    from art.attacks.evasion import ProjectedGradientDescentPyTorch
    from art.estimators.classification import PyTorchClassifier

    device = next(module.parameters()).device
    clf: PyTorchClassifier | None = None

    def run(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        nonlocal clf
        if clf is None:  # the input shape is known only now
            clf = PyTorchClassifier(
                model=module,
                loss=nn.CrossEntropyLoss(),
                input_shape=tuple(x.shape[1:]),
                nb_classes=10,
                clip_values=(0.0, 1.0),
                device_type="gpu" if device.type == "cuda" else "cpu",
            )
        attack = ProjectedGradientDescentPyTorch(
            clf,
            norm=np.inf,
            eps=eps,
            eps_step=step,
            max_iter=steps,
            num_random_init=random_init,
            batch_size=len(x),
            verbose=False,
        )
        np.random.seed(seed)
        torch.manual_seed(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            adv = attack.generate(x.cpu().numpy(), y=y.cpu().numpy())
        return torch.as_tensor(adv, device=x.device)

    return run


def ta_autoattack(module: nn.Module, *, eps: float, seed: int) -> Runner:
    """torchattacks AutoAttack 'standard' as shipped (APGD steps=10, FAB-T, Square 5000)."""
    import torchattacks

    attack = torchattacks.AutoAttack(
        module, norm="Linf", eps=eps, version="standard", n_classes=10, seed=seed
    )
    return lambda x, y: attack(x, y)


def ta_autoattack_original(module: nn.Module, *, eps: float, seed: int) -> Runner:
    """torchattacks parts at the original AutoAttack budgets (100 steps, 9 targets)."""
    import torchattacks as ta

    kw = {"norm": "Linf", "eps": eps, "seed": seed}
    attack = ta.MultiAttack(
        [
            ta.APGD(module, steps=100, loss="ce", n_restarts=1, **kw),
            ta.APGDT(module, steps=100, n_classes=10, n_restarts=1, **kw),
            ta.FAB(module, multi_targeted=True, n_classes=10, steps=100, n_restarts=1, **kw),
            ta.Square(module, n_queries=5000, n_restarts=1, **kw),
        ]
    )
    return lambda x, y: attack(x, y)
