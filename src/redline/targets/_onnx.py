"""Black-box target around an ONNX file, run by onnxruntime (no code from the file runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from redline.errors import InputError
from redline.targets._base import Target
from redline.targets._optional import first_line, optional_import
from redline.targets._scores import (
    Scores,
    labels_to_logits,
    margins_to_logits,
    probabilities_to_logits,
)

__all__ = ["OnnxTarget"]

_DTYPES = {"tensor(float)": np.float32, "tensor(double)": np.float64}
_PROBA_NAMES = ("probabilities", "probability", "output_probability", "probs", "proba")


class OnnxTarget(Target):
    """A classifier exported to ONNX; the first input takes ``(n, features)`` rows.

    The scores output is picked by name (``output``) or found: a 2-D float output named
    like probabilities, else the only 2-D float output; scikit-learn exports' ZipMap
    (a list of ``{class: p}``) is read too. An output named like probabilities, or a
    ZipMap, holds probabilities; any other is taken as logits unless ``scores`` says
    otherwise. With no float output the model is label-only (its integer label output,
    ``n_classes`` given).
    """

    def __init__(
        self,
        model: str | Path | bytes,
        *,
        bounds: tuple[float, float] = (-float("inf"), float("inf")),
        output: str | None = None,
        scores: Scores | None = None,
        n_classes: int | None = None,
    ) -> None:
        super().__init__(bounds=bounds)
        self.session_ = _open(model)
        inputs = self.session_.get_inputs()
        if len(inputs) != 1:
            names = [i.name for i in inputs]
            raise InputError(f"the ONNX model has {len(inputs)} inputs {names}; expected one")
        self.input_name = inputs[0].name
        self._dtype = _DTYPES.get(inputs[0].type)
        if self._dtype is None:
            raise InputError(f"the ONNX model's input is {inputs[0].type}, expected float rows")
        shape = inputs[0].shape
        self.n_features = shape[-1] if len(shape) == 2 and isinstance(shape[-1], int) else None
        self.output, kind = _pick_output(self.session_, output)
        self.scores: Scores = scores or kind
        self.n_classes = n_classes
        if self.scores == "labels" and not n_classes:
            raise InputError("a label-only ONNX model needs n_classes")

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @property
    def label_only(self) -> bool:
        return self.scores == "labels"

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.detach().cpu().reshape(len(x), -1).numpy().astype(self._dtype)
        if self.n_features is not None and rows.shape[1] != self.n_features:
            raise InputError(
                f"the ONNX model expects {self.n_features} features, the data has {rows.shape[1]}"
            )
        (out,) = self.session_.run([self.output], {self.input_name: rows})
        values = _as_matrix(out)
        if self.scores == "labels":
            return labels_to_logits(values, int(self.n_classes or 0), "the ONNX model")
        if self.scores == "logits":
            return margins_to_logits(values, "the ONNX model")
        return probabilities_to_logits(values, "the ONNX model")


def _open(model: str | Path | bytes) -> Any:
    ort = optional_import("onnxruntime", "ONNX models")
    source = model if isinstance(model, bytes) else str(model)
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings on stderr per load
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
        raise InputError(f"not a loadable ONNX model: {first_line(exc)}") from exc


def _pick_output(session: Any, name: str | None) -> tuple[str, Scores]:
    outputs = session.get_outputs()
    if name is not None:
        match = [o for o in outputs if o.name == name]
        if not match:
            raise InputError(f"the ONNX model has no output {name!r} ({[o.name for o in outputs]})")
        return name, _kind(match[0])
    floats = [o for o in outputs if _kind(o) != "labels"]
    named = [o for o in floats if o.name.lower() in _PROBA_NAMES]
    if named or len(floats) == 1:
        chosen = (named or floats)[0]
        return chosen.name, "probabilities" if named else _kind(chosen)
    if floats:
        raise InputError(
            f"the ONNX model has several score outputs {[o.name for o in floats]}: name one"
        )
    return outputs[0].name, "labels"


def _kind(output: Any) -> Scores:
    kind = str(output.type)
    if kind.startswith("seq(map(") or kind in ("tensor(float)", "tensor(double)"):
        return "probabilities" if "map" in kind or "prob" in output.name.lower() else "logits"
    return "labels"


def _as_matrix(out: Any) -> np.ndarray:
    """The output as an array; a ZipMap list of dicts becomes rows in class order."""
    if isinstance(out, list) and out and isinstance(out[0], dict):
        keys = sorted(out[0])
        return np.array([[row[k] for k in keys] for row in out], dtype=np.float64)
    return np.asarray(out)
