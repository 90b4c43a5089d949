"""What ``redline calibrate`` does once parsed (imported lazily: heavy)."""

from __future__ import annotations

from pathlib import Path

import torch
import typer
from torch import nn

from redline._atomic import atomic_writer
from redline.cli._options import ModelSpec
from redline.cli._store_opts import out_file
from redline.datasets import load_data
from redline.defenses._calibration import CalibrationResult, calibrate
from redline.errors import InputError

__all__ = ["run_calibrate"]


def _check_out(out: Path, report: Path | None) -> None:
    out_file(out)
    if out.suffix not in (".pt", ".pt2"):
        raise InputError(f"--out {out}: use .pt or .pt2 (a torch.export archive)")
    if report is not None:
        out_file(report)


def _save(module: nn.Module, example: torch.Tensor, out: Path) -> None:
    """Write ``module`` as a torch.export archive (self-contained, any batch size);
    refuse one that does not reproduce the module."""
    module.eval()
    with torch.no_grad():
        expected = module(example)
        try:
            batch = torch.export.Dim("batch", min=1)
            program = torch.export.export(module, (example,), dynamic_shapes=({0: batch},))
            got = program.module()(example)
        except Exception as exc:  # export raises many types on code it cannot capture
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise InputError(f"cannot export the calibrated model: {first[:200]}") from None
    if not torch.allclose(got, expected, rtol=1e-4, atol=1e-5):
        raise InputError("the exported model does not reproduce the original")
    with atomic_writer(out) as handle:
        torch.export.save(program, handle)


def _print(result: CalibrationResult, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"temperature scaling: T = {result.temperature:.4f} ({result.n} samples)")
    for col in ("", "before", "after"):
        table.add_column(col, justify="right")
    b, a = result.before, result.after
    table.add_row("ECE (15 bins)", f"{b.ece:.4f}", f"{a.ece:.4f}")
    table.add_row("NLL", f"{b.nll:.4f}", f"{a.nll:.4f}")
    table.add_row("accuracy", f"{b.accuracy:.2%}", f"{a.accuracy:.2%}")
    console = Console(stderr=True)
    console.print(table)
    console.print(f"in-sample (fitted on these samples); calibrated model written to {out}")


def run_calibrate(
    spec: ModelSpec, data: str, label_column: str, out: Path, report: Path | None
) -> None:
    """Validate, fit, save the scaled model (and the report page), print the table."""
    _check_out(out, report)
    spec.check()
    target, _ = spec.load()
    val = load_data(data, label_column=label_column, bounds=target.bounds)
    x, y = torch.as_tensor(val.x, device=target.device), torch.as_tensor(val.y)
    scaled, result = calibrate(target, x, y)
    with torch.no_grad():
        example = target.normalize(x[: min(8, len(x))])
    _save(scaled, example, out)
    if report is not None:
        from redline.reports._calibration import calibration_html

        with atomic_writer(report) as handle:
            handle.write(calibration_html(result, val.source).encode("utf-8"))
    _print(result, out)
    typer.echo(f"{result.temperature:.6f}")
