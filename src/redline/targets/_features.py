"""Intermediate activations of a model: the raw material of backdoor detectors, OOD
detectors and drift profiles (here, below both poisoning and monitoring)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from redline.errors import InputError
from redline.targets._torch import TorchTarget

__all__ = ["activations", "candidate_layers", "layer_names", "penultimate"]


def layer_names(module: nn.Module) -> list[str]:
    """Names of every sub-module, in forward-definition order ('' is the whole model)."""
    return [name for name, _ in module.named_modules() if name]


def candidate_layers(module: nn.Module) -> list[str]:
    """Layers worth inspecting for backdoor features: activations and linear/conv outputs
    in the second half of the network, deepest last, the logits excluded."""
    leaves = [
        name
        for name, m in module.named_modules()
        if name and isinstance(m, nn.ReLU | nn.GELU | nn.Linear | nn.Conv2d | nn.Flatten)
    ]
    if len(leaves) <= 1:
        return leaves
    return leaves[len(leaves) // 2 : -1] or leaves[:-1]


def _get(module: nn.Module, layer: str) -> nn.Module:
    names: dict[str, nn.Module] = dict(module.named_modules())
    if layer not in names or not layer:
        known = ", ".join(layer_names(module)) or "none"
        raise InputError(f"layer {layer!r} does not exist in the model (layers: {known})")
    return names[layer]


def activations(
    target: TorchTarget,
    x: npt.NDArray[np.float32] | torch.Tensor,
    layers: str | Sequence[str],
    *,
    batch_size: int = 256,
) -> dict[str, npt.NDArray[np.float32]]:
    """Flattened activations ``(n, d)`` of each named layer, computed in batches (eval mode)."""
    names = [layers] if isinstance(layers, str) else list(layers)
    modules = {name: _get(target.module, name) for name in names}
    out: dict[str, list[npt.NDArray[np.float32]]] = {name: [] for name in names}
    seen: dict[str, torch.Tensor] = {}
    hooks = [
        m.register_forward_hook(lambda _m, _i, o, name=name: seen.__setitem__(name, o))
        for name, m in modules.items()
    ]
    xt = torch.as_tensor(x, dtype=torch.float32)
    try:
        with target.session():
            for start in range(0, len(xt), batch_size):
                target.logits(xt[start : start + batch_size].to(target.device))
                for name in names:
                    out[name].append(seen[name].detach().flatten(1).float().cpu().numpy())
    finally:
        for h in hooks:
            h.remove()
    return {
        name: np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)
        for name, parts in out.items()
    }


def penultimate(
    target: TorchTarget, x: npt.NDArray[np.float32] | torch.Tensor, *, batch_size: int = 256
) -> npt.NDArray[np.float32]:
    """The input of the model's last linear layer ``(n, d)``: the penultimate features
    that OOD detectors (Mahalanobis, KNN) and drift profiles summarise."""
    linear = [m for m in target.module.modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise InputError("the model has no linear layer: no penultimate features to read")
    seen: list[torch.Tensor] = []
    hook = linear[-1].register_forward_pre_hook(lambda _m, inputs: seen.append(inputs[0]))
    parts = []
    xt = torch.as_tensor(x, dtype=torch.float32)
    try:
        with target.session():
            for start in range(0, len(xt), batch_size):
                seen.clear()
                target.logits(xt[start : start + batch_size].to(target.device))
                parts.append(seen[-1].detach().flatten(1).float().cpu().numpy())
    finally:
        hook.remove()
    return np.concatenate(parts) if parts else np.zeros((0, linear[-1].in_features), np.float32)
