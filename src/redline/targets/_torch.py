"""White-box target around a ``torch.nn.Module``."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import torch
from torch import nn

from redline.errors import InputError
from redline.targets._base import LossFn, Target

__all__ = ["TorchTarget"]


def _as_channel_tensor(
    value: float | Sequence[float] | torch.Tensor | None, name: str
) -> torch.Tensor | None:
    if value is None:
        return None
    t = torch.as_tensor(value, dtype=torch.float32).flatten()
    if t.numel() == 0 or not torch.isfinite(t).all():
        raise InputError(f"{name} must be finite numbers, got {value!r}")
    return t


class TorchTarget(Target):
    """A PyTorch classifier with white-box access.

    Inputs live in ``bounds`` (e.g. pixels in [0, 1]); ``mean``/``std`` normalisation is
    applied inside, per channel (dim 1), so attacks and eps stay in input space. The
    device is taken from the module. During an attack the module is put in eval mode and
    its parameters stop requiring gradients; both are restored afterwards. ``eot`` > 1
    averages each gradient over that many forward passes (Expectation over
    Transformation), for models with randomness inside.
    """

    def __init__(
        self,
        module: nn.Module,
        *,
        bounds: tuple[float, float] = (0.0, 1.0),
        mean: float | Sequence[float] | torch.Tensor | None = None,
        std: float | Sequence[float] | torch.Tensor | None = None,
        eot: int = 1,
    ) -> None:
        super().__init__(bounds=bounds)
        if not isinstance(module, nn.Module):
            raise InputError(f"TorchTarget needs a torch.nn.Module, got {type(module).__name__}")
        if eot < 1:
            raise InputError(f"eot must be >= 1, got {eot}")
        self.module = module
        self.eot = eot
        self._device = self._module_device(module)
        self._mean = _as_channel_tensor(mean, "mean")
        self._std = _as_channel_tensor(std, "std")
        if self._std is not None and bool((self._std <= 0).any()):
            raise InputError(f"std must be > 0, got {std!r}")
        self._depth = 0

    @staticmethod
    def _module_device(module: nn.Module) -> torch.device:
        for param in module.parameters():
            return param.device
        for buffer in module.buffers():
            return buffer.device
        return torch.device("cpu")

    @property
    def device(self) -> torch.device:
        return self._device

    @property
    def differentiable(self) -> bool:
        return True

    @property
    def mean(self) -> list[float] | None:
        """Per-channel mean applied inside, as plain floats (for reports)."""
        return None if self._mean is None else self._mean.tolist()

    @property
    def std(self) -> list[float] | None:
        """Per-channel std applied inside, as plain floats (for reports)."""
        return None if self._std is None else self._std.tolist()

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        shape = (1, -1, *([1] * (x.dim() - 2)))
        if self._mean is not None:
            x = x - self._mean.to(x.device).view(shape)
        if self._std is not None:
            x = x / self._std.to(x.device).view(shape)
        return x

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        try:
            out = self.module(self._normalize(x))
        except RuntimeError as exc:  # shape/dtype mismatch between model and data
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise InputError(
                f"model failed on inputs of shape {tuple(x.shape[1:])}: {first}"
            ) from exc
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or len(out) != len(x):
            shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
            raise InputError(
                f"model must return logits of shape (batch, classes); got {shape} "
                f"for a batch of {len(x)}"
            )
        return out

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` as the module sees it (mean subtracted, divided by std, when given)."""
        return self._normalize(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits with autograd, in the module's current mode (train or eval), through
        this target's normalisation: what training on input-space batches calls."""
        return self._forward(x)

    @contextmanager
    def session(self) -> Iterator[None]:
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        modes = [(m, m.training) for m in self.module.modules()]
        grads = [(p, p.requires_grad) for p in self.module.parameters()]
        self.module.eval()
        for p, _ in grads:
            p.requires_grad_(False)
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            for m, training in modes:
                m.training = training
            for p, flag in grads:
                p.requires_grad_(flag)

    @staticmethod
    def _input_grad(loss: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """d(sum loss)/dx; zero when the output does not depend on x differentiably."""
        if not loss.requires_grad:  # e.g. thresholding or argmax inside the model
            return torch.zeros_like(x)
        (grad,) = torch.autograd.grad(loss.sum(), x, allow_unused=True, materialize_grads=True)
        return grad

    def logits_and_grad(
        self, x: torch.Tensor, loss_fn: LossFn
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = x.detach().requires_grad_(True)
        logits_sum: torch.Tensor | None = None
        loss_sum: torch.Tensor | None = None
        grad_sum: torch.Tensor | None = None
        with torch.enable_grad():
            for _ in range(self.eot):
                logits = self._forward(x)
                loss = loss_fn(logits)
                grad = self._input_grad(loss, x)
                logits_sum = logits.detach() if logits_sum is None else logits_sum + logits.detach()
                loss_sum = loss.detach() if loss_sum is None else loss_sum + loss.detach()
                grad_sum = grad if grad_sum is None else grad_sum + grad
        self._count(len(x) * self.eot, len(x) * self.eot)
        assert logits_sum is not None and loss_sum is not None and grad_sum is not None
        if self.eot == 1:
            return logits_sum, loss_sum, grad_sum
        return logits_sum / self.eot, loss_sum / self.eot, grad_sum / self.eot
