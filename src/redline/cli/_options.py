"""Options shared by the commands that load a model, and the loading they describe."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from redline.cli._common import parse_floats

if TYPE_CHECKING:
    from redline.evaluation import ModelInfo
    from redline.registry import VersionInfo
    from redline.targets import TorchTarget

__all__ = [
    "MODEL_HELP",
    "ZOO_NAMES",
    "AllowPickle",
    "Bounds",
    "Combine",
    "Device",
    "Mean",
    "ModelOpt",
    "ModelSpec",
    "Std",
    "Weights",
]

ZOO_NAMES = ("digits_cnn", "mlp", "small_cnn")
"""redline.zoo.ZOO_MODELS without importing torch (a test keeps the two equal)."""
MODEL_HELP = (
    f"Model entry point: zoo:NAME ({', '.join(ZOO_NAMES)}), 'package.module:factory' "
    "or 'path/file.py:factory'."
)

ModelOpt = Annotated[str | None, typer.Option("--model", help=MODEL_HELP)]
Weights = Annotated[
    Path | None,
    typer.Option(help="Weights: state_dict (.pt, needs --model), TorchScript, or .pt2."),
]
AllowPickle = Annotated[
    bool, typer.Option(help="Allow loading a pickled full model (runs code from the file!).")
]
Bounds = Annotated[str, typer.Option(help="Valid input range 'low,high'.")]
Mean = Annotated[str | None, typer.Option(help="Per-channel mean applied inside.")]
Std = Annotated[str | None, typer.Option(help="Per-channel std applied inside.")]
Device = Annotated[str, typer.Option(help="Device: cpu, cuda, cuda:1...")]


class Combine(StrEnum):
    """An ensemble's rule (``--combine``): average the members' logits or probabilities."""

    LOGITS = "logits"
    PROBS = "probs"


@dataclass(frozen=True)
class ModelSpec:
    """Where the model comes from and its input contract, as given on the command line."""

    model: str | None
    weights: Path | None
    allow_pickle: bool
    bounds: str
    mean: str | None
    std: str | None
    device: str
    members: tuple[str, ...] = ()
    """Ensemble members, ``WEIGHTS`` (built with ``model``) or ``ENTRY=WEIGHTS``."""
    combine: str = "logits"

    def parsed_bounds(self) -> tuple[float, float]:
        """``--bounds`` as two floats (input error otherwise)."""
        values = parse_floats(self.bounds, "bounds", count=2)
        assert values is not None
        return values[0], values[1]

    def with_version(self, info: VersionInfo, artifact: Path) -> ModelSpec:
        """This spec loading a registered version: its verified artifact, its entry
        point (unless ``--model`` overrides it) and its recorded input contract."""
        from dataclasses import replace

        spec = info.input_spec
        bounds, mean, std = spec.get("bounds"), spec.get("mean"), spec.get("std")
        return replace(
            self,
            model=self.model or info.entry_point,
            weights=artifact,
            bounds=",".join(map(str, bounds)) if bounds else self.bounds,
            mean=",".join(map(str, mean)) if mean else self.mean,
            std=",".join(map(str, std)) if std else self.std,
        )

    def check(self) -> None:
        """Cheap checks of the options, before anything is loaded."""
        if self.model is None and self.weights is None and not self.members:
            from redline.errors import InputError

            raise InputError("give --model, --weights, or both")
        self.parsed_bounds()
        parse_floats(self.mean, "mean")
        parse_floats(self.std, "std")
        if self.members:
            self._check_members()
        elif self.combine != "logits":
            from redline.errors import InputError

            raise InputError("--combine is for ensembles: give the members with --member")

    def _check_members(self) -> None:
        from redline.errors import InputError

        if self.weights is not None:
            raise InputError("an ensemble's weights are its --member files: drop --weights")
        if len(self.members) < 2:
            raise InputError(f"an ensemble needs at least 2 --member, got {len(self.members)}")
        if self.combine not in ("logits", "probs"):
            raise InputError(f"--combine {self.combine!r}: use logits or probs")

    def parsed_members(self) -> list[tuple[str | None, Path]]:
        """Each ``--member`` as (entry point, weights): ``ENTRY=WEIGHTS`` when the part
        before the first '=' names an entry point (has a ':'), else ``--model`` builds it."""
        out: list[tuple[str | None, Path]] = []
        for text in self.members:
            entry, sep, path = text.partition("=")
            if sep and ":" in entry:
                out.append((entry, Path(path)))
            else:
                out.append((self.model, Path(text)))
        return out

    def load(self, *, eot: int = 1) -> tuple[TorchTarget, ModelInfo]:
        """Load the model and wrap it as a target with the given input contract
        (``eot`` gradient samples per step for randomised models)."""
        from redline.evaluation import ModelInfo
        from redline.targets import TorchTarget, load_ensemble, load_model

        if self.members:
            loaded = load_ensemble(
                self.parsed_members(),
                combine="probs" if self.combine == "probs" else "logits",
                allow_pickle=self.allow_pickle,
                device=self.device,
            )
        else:
            loaded = load_model(
                self.model, self.weights, allow_pickle=self.allow_pickle, device=self.device
            )
        target = TorchTarget(
            loaded.module,
            bounds=self.parsed_bounds(),
            mean=parse_floats(self.mean, "mean"),
            std=parse_floats(self.std, "std"),
            eot=eot,
        )
        info = ModelInfo(source=loaded.source, format=loaded.format, sha256=loaded.sha256)
        return target, info
