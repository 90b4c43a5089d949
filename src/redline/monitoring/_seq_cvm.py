"""Sequential Cramér–von Mises detector: one sliding window per feature, the largest
standardised statistic over features against an ERT-calibrated threshold."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from redline.monitoring._sequential import Floats, Rows, SequentialDetector

__all__ = ["SequentialCVM"]

Ints = npt.NDArray[np.int64]


def cvm_statistic(positions: Ints, n: int) -> Floats:
    """Standardised two-sample Cramér–von Mises statistic of windows against a reference
    of ``n`` points, from the windows' sorted positions ``(..., w)`` (position = number
    of reference points strictly below a window point).

    Anderson (1962): ``T = U / (n w N) - (4 n w - 1) / (6 N)`` with ``N = n + w`` and
    ``U = n sum_i (r_i - i)^2 + w sum_j (s_j - j)^2`` over the pooled ranks ``r`` of the
    reference and ``s`` of the window (the statistic of ``scipy.stats.cramervonmises_2samp``).
    ``s_j - j`` is the j-th sorted position and ``r_i - i`` the number of window points
    below the i-th reference point, so ``U`` needs only the positions: O(w) per window.
    Standardised by the exact null mean and variance (Anderson, eqs. 3 and 14).
    """
    w = positions.shape[-1]
    pos = positions.astype(np.float64)
    gaps = np.diff(pos, axis=-1, append=np.full((*pos.shape[:-1], 1), float(n)))
    m2 = np.arange(1, w + 1, dtype=np.float64) ** 2
    big = n + w
    u = n * (gaps * m2).sum(axis=-1) + w * (pos * pos).sum(axis=-1)
    t = u / (n * w * big) - (4 * n * w - 1) / (6 * big)
    mean = 1 / 6 + 1 / (6 * big)
    var = (big + 1) * (4 * n * w * big - 3 * (n * n + w * w) - 2 * n * w) / (180 * big**2 * n * w)
    return np.asarray((t - mean) / np.sqrt(var))


def _positions_in_sub(ranks: Ints, streams: Rows) -> Ints:
    """Positions of each stream row among its own sub-reference (the other rows), from
    ``ranks`` (rows of the whole reference strictly below each row, one feature):
    a row's rank minus the stream rows ranked strictly below it."""
    count, length = streams.shape
    r = ranks[streams]
    offset = (np.arange(count, dtype=np.int64) * (len(ranks) + 1))[:, None]
    flat = np.sort(r, axis=1) + offset
    below = np.searchsorted(flat.ravel(), (r + offset).ravel(), side="left")
    return np.asarray(r - (below.reshape(count, length) - np.arange(count)[:, None] * length))


class SequentialCVM(SequentialDetector):
    """Per-feature sliding-window Cramér–von Mises test with an ERT-calibrated threshold.

    At each update the window of the last ``window`` samples is compared, feature by
    feature, with the sub-reference; the statistic is the largest standardised CVM
    statistic over features (``SeqState.feature`` says which). The null streams resample
    whole rows, so the threshold on that maximum holds for dependent features too (no
    Bonferroni or Šidák split, which assumes independence and then overshoots the ERT on
    correlated columns). For continuous features; ties are counted as "not below".
    """

    sorted_reference_: Floats
    positions_: Ints

    def _simulate(self, reference: Floats, streams: Rows) -> Floats:
        ranks_per_feature = [
            np.searchsorted(np.sort(col), col, side="left").astype(np.int64) for col in reference.T
        ]
        out = np.full((len(streams), self.horizon_ + 1), -np.inf)
        for start in range(0, len(streams), 512):
            part = streams[start : start + 512]
            for ranks in ranks_per_feature:
                pos = _positions_in_sub(ranks, part)
                windows = np.lib.stride_tricks.sliding_window_view(pos, self.window, axis=1)
                stat = cvm_statistic(np.sort(windows, axis=-1), self.n_reference_)
                np.maximum(out[start : start + len(part)], stat, out=out[start : start + len(part)])
        return out

    def _locate(self, rows: Floats) -> Ints:
        """Positions ``(m, d)`` of rows among the sorted sub-reference, per feature."""
        return np.stack(
            [np.searchsorted(col, v, side="left") for col, v in
             zip(self.sorted_reference_.T, rows.T, strict=True)],
            axis=1,
        ).astype(np.int64)  # fmt: skip

    def _statistics(self, positions: Ints) -> Floats:
        return cvm_statistic(np.sort(positions, axis=0).T, self.n_reference_)

    def _set_reference(self, rows: Floats) -> None:
        self.sorted_reference_ = np.sort(rows, axis=0)

    def _start_window(self, rows: Floats) -> float:
        self.positions_ = self._locate(rows)
        return float(self._statistics(self.positions_).max())

    def _step(self, x: Floats) -> tuple[float, int | None]:
        self.positions_ = np.concatenate([self.positions_[1:], self._locate(x)])
        stats = self._statistics(self.positions_)
        feature = int(np.argmax(stats))
        return float(stats[feature]), feature
