"""Attacks with cover samples (Adap-Blend, Adap-Patch, WaNet): which samples change and
how, payload and cover kept apart, determinism, files that keep the cover, and one
trained check that WaNet's warp plants a backdoor on digits."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import torch
from tests.conftest import seeded
from tests.poisoning._errors import fails

from redline.datasets import Dataset, load_digits
from redline.poisoning import (
    AdaptiveBlend,
    AdaptivePatch,
    BadNets,
    CompositeTrigger,
    PatchTrigger,
    PoisonedData,
    Poisoner,
    WaNet,
    WarpTrigger,
    attack_success_rate,
    load_poisoned,
    save_poisoned,
)
from redline.zoo import digits_cnn, train_classifier

Array = npt.NDArray[np.float32]
COVERED = [AdaptiveBlend(rate=0.1), AdaptivePatch(rate=0.1), WaNet(rate=0.05)]
IDS = ["adaptive-blend", "adaptive-patch", "wanet"]


@cache
def _digits(split: str) -> Dataset:
    return load_digits(split)  # type: ignore[arg-type]


def _poison(poisoner: Poisoner, seed: int = 0) -> PoisonedData:
    train = _digits("train")
    x, y = train.x.copy(), train.y.copy()
    poisoned = poisoner.poison(x, y, seed=seed)
    np.testing.assert_array_equal(x, train.x)  # inputs are never modified
    return poisoned


@pytest.mark.parametrize("poisoner", COVERED, ids=IDS)
def test_payload_is_relabelled_and_cover_keeps_its_labels(poisoner: Poisoner) -> None:
    train = _digits("train")
    p = _poison(poisoner)
    assert p.cover is not None and not (p.mask & p.cover).any()
    assert p.n_poisoned == round(poisoner.rate * len(train.y))
    assert (train.y[p.mask] != 0).all() and (p.data.y[p.mask] == 0).all()
    assert (train.y[p.cover] != 0).all()  # drawn outside the target class
    np.testing.assert_array_equal(p.data.y[~p.mask], train.y[~p.mask])
    changed = (p.data.x != train.x).reshape(len(train.y), -1).any(axis=1)
    assert changed[p.cover].all() and changed[p.mask].mean() > 0.9
    assert not changed[~(p.mask | p.cover)].any()
    np.testing.assert_array_equal(p.original_labels, train.y)


@pytest.mark.parametrize("poisoner", COVERED, ids=IDS)
def test_same_seed_same_poison_and_cover(poisoner: Poisoner) -> None:
    a, b, c = _poison(poisoner, 4), _poison(poisoner, 4), _poison(poisoner, 5)
    assert a.data.sha256 == b.data.sha256
    assert a.cover is not None and b.cover is not None and c.cover is not None
    np.testing.assert_array_equal(a.cover, b.cover)
    assert not np.array_equal(a.cover, c.cover) and not np.array_equal(a.mask, c.mask)


def test_adaptive_cover_rate_defaults_to_rate_and_can_be_set() -> None:
    assert _poison(AdaptiveBlend(rate=0.1)).n_cover == 144
    assert _poison(AdaptiveBlend(rate=0.1, cover_rate=0.05)).n_cover == 72
    assert _poison(AdaptivePatch(rate=0.1, cover_rate=0.0)).cover is None
    fails(lambda: _poison(AdaptivePatch(rate=0.1, cover_rate=1.0)), "cover_rate", "[0, 1)")
    fails(lambda: _poison(AdaptiveBlend(rate=0.4, cover_rate=0.5)), "719 cover samples")


def test_adaptive_blend_touches_a_keep_share_of_the_cells_only() -> None:
    train = _digits("train")
    p = _poison(AdaptiveBlend(rate=0.1, pieces=16, keep=0.5))
    assert p.cover is not None
    touched = p.mask | p.cover
    diff = (p.data.x[touched] != train.x[touched])[:, 0]  # (n, 8, 8)
    cells = diff.reshape(-1, 4, 2, 4, 2).transpose(0, 1, 3, 2, 4).reshape(-1, 16, 4)
    any_pixel, all_pixels = cells.any(axis=2), cells.all(axis=2)
    np.testing.assert_array_equal(any_pixel, all_pixels)  # a cell is blended whole or not
    assert (any_pixel.sum(axis=1) == 8).all()  # 8 of the 16 cells, per sample
    assert len({tuple(row) for row in any_pixel}) > 100  # drawn per sample
    key = np.asarray(p.trigger.pattern)  # type: ignore[union-attr]
    i = np.flatnonzero(touched)[0]
    on = np.kron(any_pixel[0].reshape(4, 4), np.ones((2, 2))).astype(bool)
    want = 0.85 * train.x[i, 0] + 0.15 * key[0]
    np.testing.assert_allclose(p.data.x[i, 0][on], want[on], rtol=1e-6)


def test_adaptive_blend_tests_with_the_full_key() -> None:
    key = np.random.default_rng(3).random((1, 8, 8)).astype(np.float32)
    p = _poison(AdaptiveBlend(rate=0.1, key=key, test_alpha=0.3))
    x = _digits("test").x[:5]
    assert p.trigger is not None
    np.testing.assert_allclose(p.trigger(x), 0.7 * x + 0.3 * key, rtol=1e-6)


def test_adaptive_patch_train_samples_miss_a_patch_and_the_test_trigger_has_all() -> None:
    train = _digits("train")
    places = [(0, 0), (0, 6), (6, 0), (6, 6)]
    patches = [PatchTrigger(np.full((2, 2), 0.3), location=pl) for pl in places]
    p = _poison(AdaptivePatch(rate=0.1, patches=patches))
    assert p.cover is not None and isinstance(p.trigger, CompositeTrigger)

    def applied(x: Array) -> npt.NDArray[np.int64]:
        hits = [
            (x[:, 0, r : r + 2, c : c + 2] == np.float32(0.3)).all(axis=(1, 2)) for r, c in places
        ]
        return np.asarray(np.sum(hits, axis=0), dtype=np.int64)

    counts = applied(p.data.x[p.mask | p.cover])
    assert counts.min() >= 1 and counts.max() == 3  # a non-empty strict subset each
    assert set(counts.tolist()) == {1, 2, 3}
    assert (applied(p.trigger(train.x[:50])) == 4).all()


def test_adaptive_patch_default_patches_are_distinct_places_on_the_edges() -> None:
    patches = AdaptivePatch.default_patches((1, 8, 8), k=4, seed=0)
    assert len({p.location for p in patches}) == 4
    assert all(p.pattern.shape == (1, 2, 2) for p in patches)
    assert all(set(np.unique(p.pattern)) == {0.0, 1.0} for p in patches)
    big = AdaptivePatch.default_patches((3, 32, 32), k=8, seed=1)
    assert all(p.pattern.shape == (3, 3, 3) for p in big) and len({p.location for p in big}) == 8
    fails(lambda: AdaptivePatch.default_patches((1, 8, 8), k=9), "k", "2..8")
    fails(lambda: AdaptivePatch.default_patches((1, 8, 8), k=1), "k", "2..8")


@pytest.mark.parametrize(
    ("poisoner", "parts"),
    [
        (AdaptiveBlend(rate=0.1, pieces=15), ("pieces", "15")),
        (AdaptiveBlend(rate=0.1, pieces=81), ("pieces", "side <= 8")),
        (AdaptiveBlend(rate=0.1, keep=0.0), ("keep", "(0, 1]")),
        (AdaptiveBlend(rate=0.1, train_alpha=1.5), ("train_alpha",)),
        (AdaptiveBlend(rate=0.1, key=np.zeros((8, 8))), ("key", "(8, 8)")),
        (AdaptivePatch(rate=0.1, patches=[PatchTrigger(np.ones((2, 2)))]), ("2 or more",)),
        (AdaptivePatch(rate=0.1, train_opacity=0.0), ("train_opacity",)),
        (AdaptiveBlend(rate=0.1, target_class=10), ("target_class 10",)),
    ],
)
def test_bad_hyper_parameters_name_the_value(poisoner: Poisoner, parts: tuple[str, ...]) -> None:
    fails(lambda: _poison(poisoner), poisoner.name, *parts)


def test_adaptive_attacks_need_images() -> None:
    x, y = np.random.default_rng(0).random((100, 5)).astype(np.float32), np.arange(100) % 2
    fails(lambda: AdaptiveBlend(rate=0.1).poison(x, y), "adaptive-blend", "images")


def test_wanet_cover_is_cross_ratio_times_payload_with_noisy_warps() -> None:
    train = _digits("train")
    p = _poison(WaNet(rate=0.05, cross_ratio=2.0))
    assert p.n_poisoned == 72 and p.n_cover == 144 and p.cover is not None
    assert isinstance(p.trigger, WarpTrigger) and p.trigger.to_dict() == WarpTrigger().to_dict()
    np.testing.assert_array_equal(p.data.x[p.mask], p.trigger(train.x[p.mask]))
    exact = p.trigger(train.x[p.cover])
    assert (p.data.x[p.cover] != exact).reshape(144, -1).any(axis=1).all()  # noise mode
    assert _poison(WaNet(rate=0.05, cross_ratio=0.5)).n_cover == 36
    assert _poison(WaNet(rate=0.05, cross_ratio=0)).cover is None
    capped = _poison(WaNet(rate=0.3, cross_ratio=4.0))  # asks 1724, 857 are left: all taken
    assert capped.n_cover == int((train.y != 0).sum()) - capped.n_poisoned == 857
    fails(lambda: _poison(WaNet(rate=0.05, cross_ratio=-1.0)), "wanet", "cross_ratio", "-1.0")
    bad = WaNet(rate=0.05, trigger=PatchTrigger.checkerboard())  # type: ignore[arg-type]
    fails(lambda: _poison(bad), "wanet", "WarpTrigger", "PatchTrigger")


@pytest.mark.parametrize("poisoner", COVERED, ids=IDS)
def test_round_trip_keeps_the_cover(tmp_path: Path, poisoner: Poisoner) -> None:
    poisoned = _poison(poisoner, 3)
    loaded = load_poisoned(save_poisoned(poisoned, tmp_path / "p.npz"))
    assert poisoned.cover is not None and loaded.cover is not None
    np.testing.assert_array_equal(loaded.cover, poisoned.cover)
    np.testing.assert_array_equal(loaded.mask, poisoned.mask)
    assert loaded.params == poisoned.params and loaded.trigger is not None
    assert loaded.trigger.to_dict() == poisoned.trigger.to_dict()  # type: ignore[union-attr]
    x = _digits("test").x[:20]
    np.testing.assert_array_equal(loaded.trigger(x), poisoned.trigger(x))  # type: ignore[misc]


def test_files_without_cover_load_with_none(tmp_path: Path) -> None:
    loaded = load_poisoned(save_poisoned(_poison(BadNets(rate=0.05)), tmp_path / "p.npz"))
    assert loaded.cover is None and loaded.n_cover == 0
    with np.load(tmp_path / "p.npz") as archive:
        assert "cover" not in archive.files


def test_a_cover_overlapping_the_payload_is_refused(tmp_path: Path) -> None:
    path = save_poisoned(_poison(AdaptiveBlend(rate=0.1)), tmp_path / "p.npz")
    with np.load(path) as archive:
        arrays = {key: archive[key] for key in archive.files}
    arrays["cover"] = arrays["mask"].copy()
    np.savez(tmp_path / "bad.npz", **arrays)
    fails(lambda: load_poisoned(tmp_path / "bad.npz"), "bad.npz", "'cover'", "overlap")


@pytest.mark.slow
def test_wanet_10_percent_backdoors_the_digits_cnn() -> None:
    """Known limit: noise mode makes a once-drawn warp hard to learn on 8x8 digits in 20
    epochs. The default warp (strength 0.5) reaches ASR 0.06-0.17 over seeds 0..4; at
    strength 2 with the default cross samples 0.19-0.41 (5 seeds x 3 kernels), far above
    a clean model's 1.5% at most, but far from a complete backdoor."""
    seed = seeded(0)
    train, test = _digits("train"), _digits("test")
    attack = WaNet(rate=0.1, trigger=WarpTrigger(strength=2.0))
    poisoned = attack.poison(train.x, train.y, seed=seed)
    torch.manual_seed(seed)
    module = digits_cnn()
    train_classifier(module, poisoned.data.x, poisoned.data.y, epochs=20, lr=3e-3, seed=seed)
    asr = attack_success_rate(module, test.x, test.y, poisoned)
    assert asr > 0.12  # worst over 5 seeds x 3 kernels: 0.193 (clean models: <= 0.015)
