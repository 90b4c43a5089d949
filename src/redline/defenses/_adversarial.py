"""Adversarial training: PGD-AT (Madry et al. 2018), TRADES (Zhang et al. 2019) and fast
FGSM with a random start (Wong et al. 2020) with a catastrophic-overfitting guard.

The training examples come from :class:`redline.attacks.PGD` (no second PGD here). Any
``nn.Module`` and any iterable of ``(x, y)`` batches in input space; the model is wrapped
in a :class:`~redline.targets.TorchTarget` so normalisation stays inside. Deterministic
under ``seed`` on the CPU for a loader with a fixed order; each epoch can be saved
atomically to ``checkpoint`` and training resumed from it.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from redline.attacks import PGD
from redline.defenses._adv_checkpoint import load_checkpoint, save_checkpoint
from redline.defenses._adv_losses import METHODS, Method, inner_attack, trades_loss
from redline.errors import InputError
from redline.targets import TorchTarget

__all__ = ["EpochLog", "TrainConfig", "TrainResult", "adversarial_train", "epoch_batches"]

Batches = Iterable[tuple[torch.Tensor, torch.Tensor]]
Loader = Batches | Callable[[int], Batches]
"""Batches, or ``epoch -> batches`` (an order fixed by the epoch makes resume exact)."""


def epoch_batches(
    x: Any, y: Any, batch_size: int, seed: int
) -> Callable[[int], Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """``epoch -> batches`` over ``(x, y)``: a permutation seeded by (seed, epoch), so a
    resumed run sees the same order as an uninterrupted one."""
    xt, yt = torch.as_tensor(x), torch.as_tensor(y).long()

    def batches(epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
        order = torch.randperm(len(yt), generator=gen)
        for start in range(0, len(yt), batch_size):
            idx = order[start : start + batch_size]
            yield xt[idx], yt[idx]

    return batches


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run (JSON-able: it goes into the registry's
    ``training_config`` and must match when resuming)."""

    method: Method
    norm: str
    eps: float
    epochs: int
    lr: float = 1e-3
    beta: float = 6.0
    steps: int = 10
    seed: int = 0
    guard_drop: float = 0.2
    on_overfit: str = "fallback"
    amp: bool = False
    """Mixed precision (float16 autocast + gradient scaling) for the training forward and
    backward; CUDA only. The training examples are always crafted in float32."""

    def check(self) -> None:
        """Every range and choice, as one-line input errors."""
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}: use {', '.join(METHODS)}")
        if self.norm not in ("linf", "l2") or not 0 < self.eps <= 1e3:
            raise InputError(f"threat {self.norm}:{self.eps}: need linf or l2 and eps > 0")
        if self.epochs < 1 or self.steps < 1 or not self.lr > 0:
            raise InputError("epochs and steps must be >= 1 and lr > 0")
        if not 0 < self.beta <= 100:
            raise InputError(f"beta must be in (0, 100], got {self.beta}")
        if self.on_overfit not in ("fallback", "stop"):
            raise InputError(f"on_overfit {self.on_overfit!r}: use fallback or stop")


@dataclass(frozen=True)
class EpochLog:
    """One epoch: the method used (FGSM-RS may have fallen back to PGD-AT), the mean
    training loss, accuracy on the clean and on the training examples, PGD accuracy on
    the guard batch (None when not measured) and wall time."""

    epoch: int
    method: str
    loss: float
    clean_accuracy: float
    adversarial_accuracy: float
    guard_pgd_accuracy: float | None
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """The run: its config, one log per epoch, and whether/why it stopped early."""

    config: TrainConfig
    history: list[EpochLog] = field(default_factory=list)
    stopped: str | None = None
    overfit_epochs: list[int] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        """Training wall time over all epochs (resumed ones included)."""
        return sum(e.seconds for e in self.history)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (config, history, stop reason)."""
        return asdict(self)


@dataclass
class _Optim:
    """The optimizer, and the gradient scaler when mixed precision is on."""

    opt: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None = None

    def step(self, loss: torch.Tensor) -> None:
        """Backward and update (scaled under mixed precision)."""
        self.opt.zero_grad(set_to_none=True)
        if self.scaler is None:
            torch.autograd.backward(loss)
            self.opt.step()
            return
        torch.autograd.backward(self.scaler.scale(loss))
        self.scaler.step(self.opt)
        self.scaler.update()


@dataclass
class _State:
    method: Method
    history: list[EpochLog]
    best_guard: float | None = None
    best_weights: dict[str, torch.Tensor] | None = None
    stopped: str | None = None
    overfit: list[int] = field(default_factory=list)


def _guard_accuracy(
    target: TorchTarget, guard: tuple[torch.Tensor, torch.Tensor], cfg: TrainConfig
) -> float:
    """PGD-10 accuracy on the guard batch: FGSM training that overfits catastrophically
    keeps FGSM accuracy high while this collapses."""
    x, y = guard
    attack = PGD(norm=cfg.norm, eps=cfg.eps, steps=10, seed=cfg.seed)  # type: ignore[arg-type]
    return float((~attack(target, x, y).success).float().mean())


def _step(
    target: TorchTarget,
    optimizer: _Optim,
    batch: tuple[torch.Tensor, torch.Tensor],
    method: Method,
    cfg: TrainConfig,
    seed: int,
) -> tuple[float, int, int]:
    """One optimisation step; returns (loss, clean correct, adversarial correct)."""
    x, y = (t.to(target.device) for t in batch)
    y = y.long()
    clean = None
    if method == "trades":
        with torch.no_grad(), target.session():
            clean = target.logits(x)
    attack = inner_attack(method, cfg.norm, cfg.eps, cfg.steps, seed, clean)  # type: ignore[arg-type]
    x_adv = attack.perturb(target, x, y)
    target.module.train()
    with torch.autocast(target.device.type, dtype=torch.float16, enabled=cfg.amp):
        adv_logits = target.forward(x_adv)
        if method == "trades":
            clean_logits = target.forward(x)
            loss = trades_loss(clean_logits.float(), adv_logits.float(), y, cfg.beta)
        else:
            with torch.no_grad():
                clean_logits = target.forward(x)
            loss = F.cross_entropy(adv_logits.float(), y)
    optimizer.step(loss)
    hits = (clean_logits.argmax(1) == y).sum(), (adv_logits.argmax(1) == y).sum()
    return float(loss.detach()) * len(y), int(hits[0]), int(hits[1])


def _epoch(
    target: TorchTarget,
    optimizer: _Optim,
    loader: Batches,
    state: _State,
    cfg: TrainConfig,
    epoch: int,
) -> tuple[float, float, float]:
    total = clean = adv = n = 0.0
    for b, batch in enumerate(loader):
        seed = cfg.seed * 1_000_003 + epoch * 10_007 + b
        loss, c, a = _step(target, optimizer, batch, state.method, cfg, seed)
        total, clean, adv, n = total + loss, clean + c, adv + a, n + len(batch[1])
    if n == 0:
        raise InputError("the training data yielded no batches")
    return total / n, clean / n, adv / n


def _check_overfit(
    target: TorchTarget, state: _State, accs: tuple[float, float], epoch: int, cfg: TrainConfig
) -> None:
    """Keep the best guard accuracy and its weights; on a collapse, restore them and stop
    or fall back to PGD-AT. ``accs`` is (PGD accuracy on the guard batch, accuracy on the
    epoch's FGSM training examples): catastrophic overfitting is PGD accuracy falling
    more than ``guard_drop`` below its best while the FGSM examples stay that much
    easier. A dip in both is ordinary noise, not a collapse; and the guard arms only
    after the first fifth of the epochs, while an untrained model's accuracy swings."""
    acc, fgsm = accs
    if epoch < max(1, cfg.epochs // 5):  # warm-up: an untrained model's PGD accuracy swings
        return
    if state.best_guard is None or acc >= state.best_guard:
        state.best_guard = acc
        state.best_weights = copy.deepcopy(target.module.state_dict())
        return
    if state.best_guard - acc <= cfg.guard_drop or fgsm - acc <= cfg.guard_drop:
        return
    state.overfit.append(epoch)
    assert state.best_weights is not None
    target.module.load_state_dict(state.best_weights)
    if cfg.on_overfit == "stop":
        state.stopped = (
            f"catastrophic overfitting at epoch {epoch}: PGD accuracy {acc:.1%} on the "
            f"guard batch, best {state.best_guard:.1%}; best weights restored"
        )
    else:
        state.method = "pgd-at"


def adversarial_train(
    module: nn.Module,
    loader: Loader,
    *,
    config: TrainConfig,
    bounds: tuple[float, float] = (0.0, 1.0),
    mean: list[float] | None = None,
    std: list[float] | None = None,
    optimizer: torch.optim.Optimizer | None = None,
    guard: tuple[torch.Tensor, torch.Tensor] | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    callback: Callable[[EpochLog], bool | None] | None = None,
) -> TrainResult:
    """Train ``module`` in place on adversarial examples of ``config``'s method and threat.
    ``loader`` yields ``(x, y)`` batches in input space, or is ``epoch -> batches``.

    ``guard`` is a held-out batch on which PGD accuracy is measured after each epoch
    (FGSM-RS: catastrophic-overfitting guard; default: the first training batch).
    ``callback(log)`` runs after each epoch; returning False stops training (early
    stopping). With ``checkpoint`` every epoch is saved atomically; ``resume`` continues
    from it (its config and architecture must match)."""
    config.check()
    target = TorchTarget(module, bounds=bounds, mean=mean, std=std)
    optimizer = optimizer or torch.optim.Adam(module.parameters(), lr=config.lr)
    if config.amp and target.device.type != "cuda":
        raise InputError(f"mixed precision needs a CUDA device; the model is on {target.device}")
    optim = _Optim(optimizer, torch.amp.GradScaler("cuda") if config.amp else None)
    state = _State(config.method, [])
    if resume:
        if checkpoint is None or not Path(checkpoint).is_file():
            raise InputError(f"--resume: no checkpoint at {checkpoint}")
        state = _restore(load_checkpoint(Path(checkpoint), module, optimizer), config)
        if state.stopped:
            module.eval()
            return TrainResult(config, state.history, state.stopped, state.overfit)
    for epoch in range(len(state.history), config.epochs):
        log = _run_epoch(target, optim, loader, state, config, epoch, guard)
        state.history.append(log)
        if checkpoint is not None:
            save_checkpoint(Path(checkpoint), module, optimizer, _snapshot(state, config))
        if state.stopped or (callback is not None and callback(log) is False):
            state.stopped = state.stopped or f"stopped by the callback after epoch {epoch}"
            break
    module.eval()
    return TrainResult(config, state.history, state.stopped, state.overfit)


def _run_epoch(
    target: TorchTarget,
    optimizer: _Optim,
    loader: Loader,
    state: _State,
    cfg: TrainConfig,
    epoch: int,
    guard: tuple[torch.Tensor, torch.Tensor] | None,
) -> EpochLog:
    t0, method = time.perf_counter(), state.method
    loss, clean, adv = _epoch(target, optimizer, _batches(loader, epoch), state, cfg, epoch)
    if guard is None:
        first = next(iter(_batches(loader, epoch)))
        guard = (first[0].to(target.device), first[1].to(target.device).long())
    acc = _guard_accuracy(target, guard, cfg)
    if method == "fgsm-rs":
        _check_overfit(target, state, (acc, adv), epoch, cfg)
    return EpochLog(epoch, method, loss, clean, adv, acc, time.perf_counter() - t0)


def _batches(loader: Loader, epoch: int) -> Batches:
    return loader(epoch) if callable(loader) else loader


def _snapshot(state: _State, cfg: TrainConfig) -> dict[str, Any]:
    return {
        "config": asdict(cfg),
        "method": state.method,
        "history": [asdict(e) for e in state.history],
        "best_guard": state.best_guard,
        "overfit": list(state.overfit),
        "stopped": state.stopped,
    }


def _restore(saved: dict[str, Any], cfg: TrainConfig) -> _State:
    expected = {k: v for k, v in asdict(cfg).items() if k != "epochs"}
    found = {k: v for k, v in saved["config"].items() if k != "epochs"}
    if found != expected:
        changed = sorted(k for k in expected if expected[k] != found.get(k))
        raise InputError(f"the checkpoint was trained with other settings ({', '.join(changed)})")
    history = [EpochLog(**e) for e in saved["history"]]
    # The guard's best weights are not in the file: its baseline restarts on resume.
    return _State(saved["method"], history, None, None, saved["stopped"], saved["overfit"])
