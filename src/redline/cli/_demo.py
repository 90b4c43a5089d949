"""The demo's work: seeded training with a progress bar, then a scan (imported lazily)."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import torch

from redline.cli._run import judge_and_write
from redline.cli._threads import torch_threads
from redline.datasets import Dataset, load_digits
from redline.evaluation import ModelInfo, ScanResult, scan
from redline.policy import parse_policy
from redline.reports._bundle import check_output_dir
from redline.targets import TorchTarget
from redline.zoo import digits_cnn, train_classifier

__all__ = ["DEMO_POLICY", "demo_notes", "run_demo"]

DEMO_EPS = (0.05, 0.1, 0.2)
DEMO_BATCH = 512
"""One batch holds the whole test split: Square's 5000 iterations run once, not per batch."""
DEMO_POLICY = """\
# An example gate: an undefended model is expected to fail the robustness rule.
[policy]
min_clean_accuracy = 0.90
max_ece = 0.10
checks = "all"

[[policy.robust]]
eps = 0.1
min_accuracy = 0.50
"""


def run_demo(out: Path, *, quick: bool, seed: int, progress: bool) -> ScanResult:
    """Train, scan and write ``out`` (model.pt and redline.toml included)."""
    check_output_dir(out)
    with torch_threads(1):  # a tiny CNN: one thread is several times faster
        return _run(out, quick=quick, seed=seed, progress=progress)


def _run(out: Path, *, quick: bool, seed: int, progress: bool) -> ScanResult:
    train, test = load_digits("train", seed=seed), load_digits("test", seed=seed)
    torch.manual_seed(seed)
    module = _train(digits_cnn(), train, seed=seed, progress=progress)
    weights = io.BytesIO()
    torch.save(module.state_dict(), weights)
    sha256 = hashlib.sha256(weights.getvalue()).hexdigest()
    if quick:
        test = test.take(120)
    result = scan(
        TorchTarget(module, bounds=(0.0, 1.0)),
        test.x,
        test.y,
        threat="linf",
        eps=DEMO_EPS,
        suite="quick" if quick else "standard",
        class_names=test.class_names,
        seed=seed,
        data_source="bundled:digits:test",
        progress=progress,
        check_samples=60 if quick else 100,
        batch_size=DEMO_BATCH,
        model=ModelInfo(source="redline.zoo:digits_cnn", format="state_dict", sha256=sha256),
    )
    policy = parse_policy(DEMO_POLICY, source=str(out / "redline.toml"))
    extra = {"model.pt": weights.getvalue(), "redline.toml": DEMO_POLICY.encode()}
    return judge_and_write(result, policy, out, extra)


def _train(module: torch.nn.Module, data: Dataset, *, seed: int, progress: bool) -> torch.nn.Module:
    from rich.console import Console
    from rich.progress import Progress

    epochs = 30
    with Progress(disable=not progress, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("training small CNN on digits", total=epochs)
        train_classifier(
            module,
            data.x,
            data.y,
            epochs=epochs,
            lr=3e-3,
            seed=seed,
            on_epoch=lambda _e, _l: bar.advance(task),
        )
    return module


def demo_notes(result: ScanResult, out: Path) -> list[str]:
    """What the demo scanned, why its policy fails, and the command of the full scan."""
    n, full = result.data.n_samples, len(load_digits("test").y)
    accs = [result.clean.accuracy] + [e.robust for e in result.eps]
    half = max(a.ci.high - a.ci.low for a in accs) / 2
    which = "all" if n == full else f"{n} of the"
    lines = [
        f"scanned {which} {full} samples of the digits test split (suite "
        f"{result.config.suite}): the 95% Wilson intervals are at most "
        f"±{half * 100:.1f} points wide."
    ]
    if result.policy is not None and not result.policy.passed:
        lines.append(
            "the policy FAILs on purpose: the demo model is undefended (no adversarial "
            "training); `redline scan --policy` exits 1 on a FAIL, the demo exits 0."
        )
    eps = ",".join(f"{e:g}" for e in result.config.eps)
    lines += [
        f"open {out / 'report.html'} in a browser. The full scan ({full} test samples, "
        "standard suite, the demo's seed and batches) from the command line:",
        f"  redline scan --model redline.zoo:digits_cnn --weights {out / 'model.pt'} "
        f"--data bundled:digits:test --threat {result.config.norm}:{eps} --suite standard "
        f"--batch-size {DEMO_BATCH} --seed {result.config.seed} --threads 1 "
        f"--policy {out / 'redline.toml'} --out scan-report",
        "(--threads 1: a model this small scans several times faster on one thread)",
    ]
    return lines
