"""One cell of the hardening benchmark: every training method on one dataset and seed,
timed in this process, then each model scanned with the ``standard`` suite and its
sanity checks on the same test samples."""

from __future__ import annotations

import time
from typing import Any

import torch
from torch import nn

from benchmarks._hardening_data import CONTROL, METHODS, Cell, Data, Quantised, load, loader, spec

__all__ = ["run_cell"]

Record = dict[str, Any]


def _config(method: str, cell: Cell) -> Any:
    from redline.defenses import TrainConfig

    s = spec(cell.dataset)
    name = {"fgsm-rs-noguard": "fgsm-rs", "pgd-at-half": "pgd-at"}.get(method, method)
    return TrainConfig(
        method=name,  # type: ignore[arg-type]
        norm="linf",
        eps=s.headline / 2 if method == "pgd-at-half" else s.headline,
        epochs=s.epochs,
        lr=s.lr,
        beta=s.beta,
        steps=s.steps,
        seed=cell.seed,
        # a drop can never exceed 1: the guard still runs (same cost) but never acts
        guard_drop=1.0 if method == "fgsm-rs-noguard" else 0.2,
    )


def _guard(d: Data, cell: Cell) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of training samples (size of one batch), the same for every method."""
    gen = torch.Generator().manual_seed(10_000 + cell.seed)
    idx = torch.randperm(len(d.y_train), generator=gen)[: spec(cell.dataset).batch]
    return torch.as_tensor(d.x_train)[idx], torch.as_tensor(d.y_train)[idx]


def _train(method: str, module: nn.Module, d: Data, cell: Cell, epochs: int) -> Any:
    """Train ``module`` in place; the TrainResult of adversarial methods, else None."""
    from redline.defenses import adversarial_train
    from redline.zoo import train_classifier

    s = spec(cell.dataset)
    if method == "standard":
        train_classifier(
            module, d.x_train, d.y_train, epochs=epochs, lr=s.lr, batch_size=s.batch, seed=cell.seed
        )
        return None
    config = _config(method, cell)
    if epochs != config.epochs:
        from dataclasses import replace

        config = replace(config, epochs=epochs)
    return adversarial_train(
        module,
        loader(d.x_train, d.y_train, s.batch, cell.seed),
        config=config,
        bounds=d.bounds,
        guard=_guard(d, cell),
    )


def _fresh(d: Data, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return d.factory()


def _guard_seconds(module: nn.Module, d: Data, cell: Cell, epochs: int) -> float:
    """Estimated time of the per-epoch guard (PGD-10 on the guard batch) over training:
    one timed call on the final model, times the epochs."""
    from redline import TorchTarget
    from redline.attacks import PGD

    x, y = _guard(d, cell)
    target = TorchTarget(module, bounds=d.bounds)
    attack = PGD(norm="linf", eps=spec(cell.dataset).headline, steps=10, seed=cell.seed)
    t0 = time.perf_counter()
    attack(target, x, y)
    return (time.perf_counter() - t0) * epochs


def _scan(module: nn.Module, d: Data, cell: Cell) -> Record:
    from redline import TorchTarget
    from redline.evaluation import scan

    s = spec(cell.dataset)
    x, y = d.x_test[: cell.samples], d.y_test[: cell.samples]
    t0 = time.perf_counter()
    res = scan(
        TorchTarget(module, bounds=d.bounds),
        x,
        y,
        threat="linf",
        eps=list(s.eps),
        suite="standard",
        checks=True,
        minimal=False,
        progress=False,
        seed=cell.seed,
    )
    return {
        "clean": res.clean.accuracy.value,
        "ece": res.clean.ece,
        "robust": [e.robust.value for e in res.eps],
        "checks": {c.id: c.status for c in res.checks},
        "flags": [f"{c.id} {c.status}: {c.summary}" for c in res.checks if c.status in _FLAG],
        "scan_s": time.perf_counter() - t0,
    }


_FLAG = ("WARN", "FAIL")


def _training_record(result: Any, guard_s: float) -> Record:
    rec: Record = {"guard_s": guard_s}
    if result is not None:
        rec["overfit"] = list(result.overfit_epochs)
        rec["fgsm_epochs"] = sum(1 for e in result.history if e.method == "fgsm-rs")
        rec["stopped"] = result.stopped
    return rec


def _timed(method: str, d: Data, cell: Cell, epochs: int) -> tuple[nn.Module, Any, float, float]:
    module = _fresh(d, cell.seed)
    t0, c0 = time.perf_counter(), time.process_time()
    result = _train(method, module, d, cell, epochs)
    return module.eval(), result, time.perf_counter() - t0, time.process_time() - c0


def run_cell(cell: Cell) -> Record:
    """Warm up, then ``cell.rounds`` rounds of training every method, the order alternating
    (reversed on odd seed + round); the first round's models are kept and scanned, the
    other rounds only add timings (same seed: the same work again)."""
    d = load(cell.dataset)
    epochs = spec(cell.dataset).epochs
    start = time.process_time()
    for method in METHODS:  # warm-up: one epoch each, thrown away
        _train(method, _fresh(d, cell.seed), d, cell, 1)
    models: dict[str, nn.Module] = {}
    rec: Record = {"kind": cell.kind, "dataset": cell.dataset, "seed": cell.seed, "methods": {}}
    rec["timing"] = []
    for r in range(cell.rounds):
        order = METHODS if (cell.seed + r) % 2 == 0 else tuple(reversed(METHODS))
        times: dict[str, tuple[float, float]] = {}
        for method in order:
            module, result, wall, cpu = _timed(method, d, cell, epochs)
            times[method] = (wall, cpu)
            if r == 0:
                models[method] = module
                guard = 0.0 if method == "standard" else _guard_seconds(module, d, cell, epochs)
                rec["methods"][method] = _training_record(result, guard)
        rec["timing"].append(times)
    models[CONTROL] = Quantised(models["standard"], spec(cell.dataset).levels).eval()
    rec["methods"][CONTROL] = {}
    for method, module in models.items():
        rec["methods"][method].update(_scan(module, d, cell))
    rec["samples"] = min(cell.samples, len(d.y_test))
    rec["cpu_s"] = time.process_time() - start
    return rec
