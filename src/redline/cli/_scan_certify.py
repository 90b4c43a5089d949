"""``redline scan --certify``: randomized-smoothing certificates of the scanned model on
the scanned samples, stored as the result's own ``certified`` section (a guarantee,
never mixed into the empirical robust accuracies)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch

from redline.errors import InputError
from redline.results import CertifiedSection
from redline.targets import TorchTarget

__all__ = ["CertifySpec", "certify_section", "parse_certify"]

_INTS = ("n", "n0", "samples", "batch")


@dataclass(frozen=True)
class CertifySpec:
    """``--certify``: the noise level and CERTIFY's sampling settings."""

    sigma: float
    n: int = 1000
    n0: int = 100
    alpha: float = 0.001
    samples: int | None = None
    """Certify only the first N scanned samples (all by default)."""
    batch: int = 1000

    def check(self) -> CertifySpec:
        """The settings' ranges, as one-line input errors."""
        from redline.defenses._smoothing import check_sampling, check_sigma

        check_sigma(self.sigma)
        check_sampling(self.n, self.alpha, self.n0)
        if (self.samples is not None and self.samples < 1) or self.batch < 1:
            raise InputError("--certify: samples and batch must be >= 1")
        return self


def _value(key: str, text: str) -> float | int:
    try:
        return int(text) if key in _INTS else float(text)
    except ValueError:
        raise InputError(f"--certify: {key}={text!r} is not a number") from None


def parse_certify(text: str) -> CertifySpec:
    """``0.25`` or ``sigma=0.25,n=1000,n0=100,alpha=0.001,samples=200,batch=1000``."""
    known = {f.name for f in fields(CertifySpec)}
    values: dict[str, float | int] = {}
    for part in (p.strip() for p in text.split(",") if p.strip()):
        key, sep, raw = part.partition("=")
        key, raw = (key.strip(), raw.strip()) if sep else ("sigma", part)
        if key not in known:
            raise InputError(f"--certify: unknown setting {key!r}; use {', '.join(sorted(known))}")
        values[key] = _value(key, raw)
    if "sigma" not in values:
        raise InputError("--certify needs sigma (e.g. --certify 0.25 or sigma=0.25,n=1000)")
    return CertifySpec(**values).check()  # type: ignore[arg-type]


def certify_section(
    spec: CertifySpec, target: TorchTarget, x: torch.Tensor, y: torch.Tensor, seed: int
) -> CertifiedSection:
    """CERTIFY on the first ``spec.samples`` of ``(x, y)`` with the target's module and
    input contract (the smoothed classifier is the base model under Gaussian noise)."""
    from redline.defenses import SmoothedClassifier, certify_dataset

    smoothed = SmoothedClassifier.of(target, spec.sigma, batch_size=spec.batch)
    count = len(y) if spec.samples is None else min(spec.samples, len(y))
    with target.session():
        found = certify_dataset(
            smoothed, x[:count], y[:count], n0=spec.n0, n=spec.n, alpha=spec.alpha, seed=seed
        )
    return found.section()
