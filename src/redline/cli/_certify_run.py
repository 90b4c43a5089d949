"""What ``redline certify`` does once parsed (imported lazily: heavy). Every option is
checked before the model is loaded; the JSON file is written last, atomically, so a
failure leaves nothing behind."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from redline._atomic import atomic_writer
from redline.cli._options import ModelSpec
from redline.cli._store_opts import out_file
from redline.datasets import Dataset, load_data
from redline.defenses import CertifyResult, SmoothedClassifier, certify_dataset
from redline.defenses._smoothing import check_sampling, check_sigma
from redline.defenses._smoothing_result import GUARANTEE
from redline.errors import InputError
from redline.evaluation import ModelInfo

__all__ = ["CertifyRequest", "print_certificates", "run_certify"]


@dataclass(frozen=True)
class CertifyRequest:
    """Every option of ``redline certify``."""

    data: str
    model: ModelSpec
    sigma: float
    n: int
    n0: int
    alpha: float
    batch_size: int
    limit: int | None
    seed: int
    label_column: str
    out: Path | None
    report: Path | None = None


def _check(req: CertifyRequest) -> None:
    check_sigma(req.sigma)
    check_sampling(req.n, req.alpha, req.n0)
    if req.batch_size < 1:
        raise InputError(f"--batch-size must be >= 1, got {req.batch_size}")
    if req.limit is not None and req.limit < 1:
        raise InputError(f"--limit must be >= 1, got {req.limit}")
    for path in (req.out, req.report):
        if path is not None:
            out_file(path)
    req.model.check()


def run_certify(req: CertifyRequest) -> tuple[CertifyResult, str]:
    """Validate, load, certify; write the JSON with ``--out``. Returns the result and the
    data's source name."""
    _check(req)
    target, info = req.model.load()
    data = load_data(req.data, label_column=req.label_column, bounds=target.bounds).take(req.limit)
    with target.session():
        target.logits(torch.as_tensor(data.x[:2]).to(target.device))  # shape check, early
    smoothed = SmoothedClassifier.of(target, req.sigma, batch_size=req.batch_size)
    result = certify_dataset(
        smoothed, data.x, data.y, n0=req.n0, n=req.n, alpha=req.alpha, seed=req.seed
    )
    if req.out is not None:
        payload = _payload(result, info, data, target.bounds)
        with atomic_writer(req.out) as handle:
            handle.write(json.dumps(payload, indent=2).encode())
    if req.report is not None:
        from redline.reports._certify import certify_html

        with atomic_writer(req.report) as handle:
            handle.write(certify_html(result, data.source).encode("utf-8"))
    return result, data.source


def _payload(
    result: CertifyResult, info: ModelInfo, data: Dataset, bounds: tuple[float, float]
) -> dict[str, Any]:
    return {
        **result.to_dict(),
        "model": asdict(info),
        "data": {"source": data.source, "sha256": data.sha256, "samples": len(data)},
        "bounds": list(bounds),
    }


def print_certificates(result: CertifyResult, source: str, out: Path | None) -> None:
    """Certified accuracy against the L2 radius as a table on stderr, labelled as a
    guarantee, then abstentions, the largest certifiable radius and the cost."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(stderr=True)
    table = Table(
        title=f"redline certify — {GUARANTEE}",
        caption=f"randomized smoothing: sigma {result.sigma:g}, n {result.n}, "
        f"n0 {result.n0}, alpha {result.alpha:g}",
        min_width=66,
    )
    table.add_column("L2 radius", justify="right")
    table.add_column("certified accuracy", justify="right")
    for radius, accuracy in result.curve():
        table.add_row(f"{radius:.4g}", f"{accuracy:.1%}")
    console.print(table)
    line = (
        f"{GUARANTEE}: with probability at least 1-alpha per sample, no L2 perturbation "
        "below its radius changes the smoothed prediction; not an empirical robust accuracy"
    )
    console.print(line, soft_wrap=True)
    console.print(
        f"{escape(source)}: {len(result.labels)} samples; smoothed clean accuracy "
        f"{result.clean_accuracy:.1%} (abstain counts as wrong), abstained "
        f"{result.abstention_rate:.1%}; no radius above {result.max_radius:.4g} can be "
        f"certified with n={result.n}, alpha={result.alpha:g}",
        soft_wrap=True,
    )
    console.print(
        f"{result.forward_passes} forward passes in {result.seconds:.1f} s"
        + ("" if out is None else f"; certificates written to [bold]{escape(str(out))}[/]"),
        soft_wrap=True,
    )
