"""Square Attack (Andriushchenko et al., ECCV 2020): score-based black-box random search.

Follows the paper and AutoAttack's ``square.py``: untargeted margin loss on the scores,
the piecewise schedule of the square's area ``p`` (rescaled to a 10000-query budget),
Linf vertical-stripe init and ±2eps square updates, L2 init from meta-pseudo-gaussian
blocks and the L2 update that moves mass between two windows at constant norm eps.

Differences from AutoAttack, all taken from the paper's own code: every sample draws
its own square position, sign and pattern orientation (AutoAttack shares them across
the batch); positions are uniform over all ``h - s + 1`` offsets (the reference never
picks the last one); the L2 window budget is per channel. Inputs ``(n, c, h, w)`` are
the main case, ``(n, h, w)`` is one channel, and a table ``(n, d)`` is a ``1 x d``
image whose "squares" are contiguous windows of features.
"""

from __future__ import annotations

import math

import torch

from redline.attacks._base import Adversarial, Attack
from redline.attacks._geometry import Norm
from redline.attacks._losses import margin
from redline.errors import InputError
from redline.targets import Target

__all__ = ["Square"]

_TINY = 1e-12
_SCHEDULE = (
    (10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128),
    (8000, 256),
)  # fmt: skip
"""(last iteration, divisor of p_init) pairs; after the last one p is p_init / 512."""
_REFERENCE_BUDGET = 10000
"""The schedule's iteration thresholds are for this many queries; other budgets rescale."""


class Square(Attack):
    """Square Attack: random square-shaped updates kept when they lower the margin.

    Needs only scores (``target.logits``), so it runs against a :class:`CallableTarget`.
    Each iteration queries only the samples whose margin (true score minus best other
    score) is still positive; ``queries`` in the result counts model evaluations per
    sample, init included (at most ``restarts * (queries + 1)``).
    """

    name = "square"
    needs_gradients = False

    def __init__(
        self,
        *,
        norm: Norm = "linf",
        eps: float,
        queries: int = 5000,
        p_init: float = 0.8,
        restarts: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(norm=norm, eps=eps, seed=seed)
        if queries < 1 or restarts < 1:
            raise InputError(f"queries and restarts must be >= 1, got {queries}, {restarts}")
        if not 0 < p_init <= 1:
            raise InputError(f"p_init must be in (0, 1], got {p_init}")
        self.queries = int(queries)
        self.p_init = float(p_init)
        self.restarts = int(restarts)

    def run(
        self, target: Target, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator
    ) -> Adversarial:
        image = _as_image(x)
        best = image.clone()
        spent = torch.zeros(len(x), dtype=torch.long, device=x.device)
        fooled = torch.zeros(len(x), dtype=torch.bool, device=x.device)
        for _ in range(self.restarts):
            idx = (~fooled).nonzero().squeeze(1)
            if not len(idx):
                break
            found, used, hit = self._search(target, image[idx], y[idx], x.shape, rng)
            best[idx], fooled[idx] = found, hit
            spent[idx] += used
        return Adversarial(best.reshape(x.shape), spent)

    def _search(
        self,
        target: Target,
        x: torch.Tensor,
        y: torch.Tensor,
        shape: torch.Size,
        rng: torch.Generator,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One random-search run; returns the best points, queries spent, and who is fooled."""
        assert self.eps is not None
        eps, bounds = self.eps, target.bounds

        def score(points: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            logits = target.logits(points.reshape(len(points), *shape[1:]))
            return -margin(logits, labels)

        def valid(x0: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
            as_input = (len(points), *shape[1:])
            fixed = target.constrain(x0.reshape(as_input), points.reshape(as_input), eps)
            return fixed.reshape(points.shape)

        init, step = (_linf_init, _linf_step) if self.norm == "linf" else (_l2_init, _l2_step)
        best = valid(x, init(x, eps, bounds, rng))
        loss = score(best, y)
        used = torch.ones(len(x), dtype=torch.long, device=x.device)
        for it in range(self.queries):
            active = (loss > 0).nonzero().squeeze(1)
            if not len(active):
                break
            p = self._area(it)
            proposal = valid(x[active], step(x[active], best[active], p, eps, bounds, rng))
            new = score(proposal, y[active])
            better = new < loss[active]
            best[active[better]] = proposal[better]
            loss[active[better]] = new[better]
            used[active] += 1
        return best, used, loss <= 0

    def _area(self, it: int) -> float:
        """Fraction of the image a square covers at iteration ``it`` (the paper's schedule)."""
        it = int(it / self.queries * _REFERENCE_BUDGET)
        for last, divisor in _SCHEDULE:
            if it <= last:
                return self.p_init / divisor
        return self.p_init / 512


def _as_image(x: torch.Tensor) -> torch.Tensor:
    """View a batch as ``(n, c, h, w)``: tables become ``1 x d`` single-channel images."""
    if x.dim() == 4:
        return x
    if x.dim() == 3:
        return x.unsqueeze(1)
    if x.dim() == 2:
        return x[:, None, None, :]
    raise InputError(f"square needs inputs (n, d), (n, h, w) or (n, c, h, w); got {x.dim()}-D")


def _window_size(p: float, h: int, w: int, smallest: int, odd: bool) -> tuple[int, int]:
    """Height and width of a window covering about ``p`` of an ``h x w`` image."""
    side = max(round(math.sqrt(p * h * w)), smallest)
    side += int(odd and side % 2 == 0)
    if side <= min(h, w):
        return side, side
    height = min(side, h)
    return height, min(w, max(smallest, round(p * h * w / height)))


def _window(
    x: torch.Tensor, size: tuple[int, int], rng: torch.Generator
) -> tuple[torch.Tensor, ...]:
    """Advanced index of one random window per sample, all channels: shape ``(n, c, sh, sw)``."""
    n, c, h, w = x.shape
    sh, sw = size
    top = torch.randint(0, h - sh + 1, (n, 1, 1, 1), generator=rng, device=x.device)
    left = torch.randint(0, w - sw + 1, (n, 1, 1, 1), generator=rng, device=x.device)
    rows = top + torch.arange(sh, device=x.device).view(1, 1, sh, 1)
    cols = left + torch.arange(sw, device=x.device).view(1, 1, 1, sw)
    batch = torch.arange(n, device=x.device).view(n, 1, 1, 1)
    return batch, torch.arange(c, device=x.device).view(1, c, 1, 1), rows, cols


def _signs(shape: tuple[int, ...], like: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Uniform random ±1 of the given shape."""
    bits = torch.randint(0, 2, shape, generator=rng, device=like.device)
    return (2 * bits - 1).to(like.dtype)


def _clip(
    x: torch.Tensor, candidate: torch.Tensor, eps: float, bounds: tuple[float, float]
) -> torch.Tensor:
    """Clip into the Linf ball around ``x`` and into the bounds."""
    return torch.minimum(torch.maximum(candidate, x - eps), x + eps).clamp(*bounds)


def _linf_init(
    x: torch.Tensor, eps: float, bounds: tuple[float, float], rng: torch.Generator
) -> torch.Tensor:
    """Vertical stripes: one random ±eps per (sample, channel, column)."""
    n, c, _, w = x.shape
    return (x + eps * _signs((n, c, 1, w), x, rng)).clamp(*bounds)


def _linf_step(
    x: torch.Tensor,
    best: torch.Tensor,
    p: float,
    eps: float,
    bounds: tuple[float, float],
    rng: torch.Generator,
) -> torch.Tensor:
    """Move one random square per sample to a random corner (±eps per channel) of the ball."""
    n, c, h, w = x.shape
    where = _window(x, _window_size(p, h, w, 1, odd=False), rng)
    proposal = best.clone()
    proposal[where] = best[where] + 2 * eps * _signs((n, c, 1, 1), x, rng)
    return _clip(x, proposal, eps, bounds)


def _pyramid(a: int, b: int, like: torch.Tensor) -> torch.Tensor:
    """Nested centred rectangles weighted ``1/(k+1)^2`` (the reference's ``eta_rectangles``)."""
    ring_h = (torch.arange(a, device=like.device) - a // 2).abs()
    ring_w = (torch.arange(b, device=like.device) - b // 2).abs()
    ring = torch.maximum(ring_h[:, None], ring_w[None, :])
    weights = 1.0 / (torch.arange(max(a, b) // 2 + 1, device=like.device, dtype=like.dtype) + 1)
    tail = (weights**2).flip(0).cumsum(0).flip(0)
    out: torch.Tensor = tail[ring]
    unit: torch.Tensor = out / out.norm()
    return unit


def _eta(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    """Meta-pseudo-gaussian: two opposite-sign pyramids, split along the longer side, unit norm."""
    if h < w:
        return _eta(w, h, like).T
    top, bottom = _pyramid(h // 2, w, like), -_pyramid(h - h // 2, w, like)
    out = torch.cat([top, bottom])
    unit: torch.Tensor = out / out.norm()
    return unit


def _patterns(
    n: int, size: tuple[int, int], like: torch.Tensor, rng: torch.Generator
) -> torch.Tensor:
    """One eta per sample, shape ``(n, 1, sh, sw)``; squares are transposed at random."""
    pattern = _eta(*size, like)
    if size[0] != size[1]:
        return pattern.expand(n, 1, *size)
    flip = torch.rand((n, 1, 1, 1), generator=rng, device=like.device) < 0.5
    return torch.where(flip, pattern.T, pattern)


def _unit_l2(delta: torch.Tensor, dims: tuple[int, ...]) -> torch.Tensor:
    """Scale to unit L2 norm over ``dims`` (zero stays zero)."""
    return delta / (delta.square().sum(dim=dims, keepdim=True).sqrt() + _TINY)


def _l2_init(
    x: torch.Tensor, eps: float, bounds: tuple[float, float], rng: torch.Generator
) -> torch.Tensor:
    """Tile the image with random-sign eta blocks (a fifth of each side), scale to eps."""
    n, c, h, w = x.shape
    bh, bw = max(h // 5, 1), max(w // 5, 1)
    delta = torch.zeros_like(x)
    for top in range(max((h - 5 * bh) // 2, 0), h, bh)[: h // bh]:
        for left in range(max((w - 5 * bw) // 2, 0), w, bw)[: w // bw]:
            block = _patterns(n, (bh, bw), x, rng) * _signs((n, c, 1, 1), x, rng)
            rows, cols = min(bh, h - top), min(bw, w - left)
            delta[:, :, top : top + rows, left : left + cols] += block[:, :, :rows, :cols]
    return (x + eps * _unit_l2(delta, (1, 2, 3))).clamp(*bounds)


def _l2_step(
    x: torch.Tensor,
    best: torch.Tensor,
    p: float,
    eps: float,
    bounds: tuple[float, float],
    rng: torch.Generator,
) -> torch.Tensor:
    """Empty a second window into a first one, add a fresh eta there, keep the norm at eps."""
    n, c, h, w = x.shape
    size = _window_size(p, h, w, 3, odd=True)
    delta = best - x
    first, second = _window(x, size, rng), _window(x, size, rng)
    union = torch.zeros_like(x)
    union[first], union[second] = 1.0, 1.0
    mass = (delta * union).square().sum(dim=(2, 3), keepdim=True)
    slack = (eps**2 - delta.square().sum(dim=(1, 2, 3), keepdim=True)).clamp(min=0)
    fresh = _patterns(n, size, x, rng) * _signs((n, c, 1, 1), x, rng)
    fresh = _unit_l2(fresh + _unit_l2(delta[first], (2, 3)), (2, 3))
    delta[second] = 0.0
    delta[first] = fresh * (slack / c + mass).sqrt()
    return (x + eps * _unit_l2(delta, (1, 2, 3))).clamp(*bounds)
