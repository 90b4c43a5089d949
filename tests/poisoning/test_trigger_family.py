"""The trigger family (issue 12): patch shapes and places, smooth and image blend keys,
WaNet warps, frequency and sample-specific triggers; bounds, no mutation, round trips."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import scipy.fft
from tests.poisoning._errors import fails

from redline.datasets import Dataset
from redline.poisoning import (
    BlendTrigger,
    FrequencyTrigger,
    PatchTrigger,
    PoisonedData,
    SampleSpecificTrigger,
    Trigger,
    WarpTrigger,
    load_poisoned,
    save_poisoned,
    trigger_from_dict,
)

Array = npt.NDArray[np.float32]


def _images(shape: tuple[int, ...] = (6, 1, 8, 8), seed: int = 0) -> Array:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


def _smooth(n: int = 4, size: int = 16) -> Array:
    """Smooth images: a diagonal ramp plus a slow wave, a different phase per sample."""
    i, j = np.indices((size, size)) / (size - 1)
    out = [0.4 * (i + j) / 2 + 0.3 + 0.1 * np.sin(3 * i + k) for k in range(n)]
    return np.asarray(out, dtype=np.float32)[:, None]


FAMILY: dict[str, tuple[Trigger, tuple[int, ...]]] = {
    "patch-cross-random": (
        PatchTrigger.checkerboard(3, shape="cross", location="random"),
        (6, 1, 8, 8),
    ),
    "patch-solid-ring-top": (
        PatchTrigger.solid(4, 3, shape="ring", location="top"),
        (4, 3, 10, 10),
    ),
    "patch-random-x-left": (PatchTrigger.random(3, seed=2, shape="x", location="left"), (5, 8, 8)),
    "patch-rect-masked": (
        PatchTrigger(np.ones((2, 3)), mask=[[1, 0, 1], [0, 1, 0]], location=(1, 2)),
        (3, 1, 6, 6),
    ),
    "blend-low-frequency": (BlendTrigger.low_frequency((1, 8, 8), seed=4, cutoff=3), (6, 1, 8, 8)),
    "blend-image": (BlendTrigger.image(_images((3, 40, 30))[0], (3, 8, 8)), (4, 3, 8, 8)),
    "warp": (WarpTrigger(grid=3, strength=1.0, seed=5), (4, 2, 9, 7)),
    "warp-channelless": (WarpTrigger(), (3, 8, 8)),
    "frequency": (FrequencyTrigger(magnitude=0.2, frequencies=((1, 6), (4, 4))), (5, 3, 8, 8)),
    "sample-specific": (SampleSpecificTrigger(amplitude=0.2, seed=3), (5, 1, 8, 8)),
}


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_shape_bounds_and_no_mutation(name: str) -> None:
    trigger, shape = FAMILY[name]
    x = _images(shape)
    before = x.copy()
    out = trigger(x)
    np.testing.assert_array_equal(x, before)
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, x)
    np.testing.assert_array_equal(trigger(x), out)  # deterministic
    assert isinstance(trigger, Trigger)


def _as_arrays(d: dict[str, Any]) -> dict[str, Any]:
    """The description with every list turned into an array (how save_poisoned may hold it)."""
    return {k: np.asarray(v) if isinstance(v, list) else v for k, v in d.items()}


@pytest.mark.parametrize("name", sorted(FAMILY))
@pytest.mark.parametrize("form", ["json", "arrays"])
def test_round_trip_through_a_dict(name: str, form: str) -> None:
    trigger, shape = FAMILY[name]
    d = trigger.to_dict()
    described = json.loads(json.dumps(d)) if form == "json" else _as_arrays(d)
    rebuilt = trigger_from_dict(described)
    assert type(rebuilt) is type(trigger) and rebuilt.to_dict() == d
    x = _images(shape, seed=5)
    np.testing.assert_array_equal(rebuilt(x), trigger(x))


@pytest.mark.parametrize("name", sorted(FAMILY))
def test_round_trip_through_save_poisoned(tmp_path: Path, name: str) -> None:
    trigger, shape = FAMILY[name]
    x = _images(shape, seed=1)
    mask = np.zeros(len(x), dtype=bool)
    mask[0] = True
    x[mask] = trigger(x[mask])
    y = np.arange(len(x), dtype=np.int64) % 2
    poisoned = PoisonedData(Dataset(x, y, "test"), mask, y.copy(), "test", 0.2, 1, trigger)
    loaded = load_poisoned(save_poisoned(poisoned, tmp_path / "p.npz"))
    assert loaded.trigger is not None and loaded.trigger.to_dict() == trigger.to_dict()
    fresh = _images(shape, seed=9)
    np.testing.assert_array_equal(loaded.trigger(fresh), trigger(fresh))


def test_old_patch_descriptions_still_load() -> None:
    old = {"kind": "patch", "pattern": [[1.0]], "location": "top-left", "bounds": [0, 1]}
    rebuilt = trigger_from_dict(old)
    assert isinstance(rebuilt, PatchTrigger) and rebuilt.mask is None and rebuilt.seed == 0


@pytest.mark.parametrize(
    ("shape", "rows"),
    [
        ("square", ["11111", "11111", "11111", "11111", "11111"]),
        ("cross", ["00100", "00100", "11111", "00100", "00100"]),
        ("x", ["10001", "01010", "00100", "01010", "10001"]),
        ("ring", ["11111", "10001", "10001", "10001", "11111"]),
        ("line", ["00000", "00000", "11111", "00000", "00000"]),
    ],
)
def test_patch_shapes_paste_only_their_pixels(shape: str, rows: list[str]) -> None:
    x = np.full((2, 3, 7, 7), 0.5, dtype=np.float32)
    out = PatchTrigger.solid(5, shape=shape, location="top-left")(x)  # type: ignore[arg-type]
    changed = out != 0.5
    expected = np.zeros((7, 7), dtype=bool)
    expected[:5, :5] = [[c == "1" for c in row] for row in rows]
    assert (changed == expected).all()  # every channel of every sample, nothing else
    assert (out[changed] == 1.0).all()


def test_line_of_an_even_patch_is_one_row() -> None:
    mask = PatchTrigger.checkerboard(2, shape="line").mask
    assert mask is not None and mask.tolist() == [[False, False], [True, True]]


@pytest.mark.parametrize(
    ("location", "corner"),
    [("top", (0, 3)), ("bottom", (6, 3)), ("left", (3, 0)), ("right", (3, 6))],
)
def test_patch_edge_centres(location: str, corner: tuple[int, int]) -> None:
    out = PatchTrigger(np.ones((2, 2)), location=location)(np.zeros((1, 1, 8, 8), np.float32))  # type: ignore[arg-type]
    rows, cols = np.nonzero(out[0, 0])
    assert (rows.min(), cols.min()) == corner and out.sum() == 4


def _corners(out: Array, x: Array) -> list[tuple[int, int]]:
    places = []
    for diff in (out != x).any(axis=1):
        rows, cols = np.nonzero(diff)
        places.append((int(rows.min()), int(cols.min())))
    return places


def test_random_location_is_per_sample_and_independent_of_the_batch() -> None:
    x = _images((40, 1, 12, 12), seed=3)
    trigger = PatchTrigger(np.full((1, 2, 2), 2.0), location="random", bounds=(0, 2))
    out = trigger(x)
    places = _corners(out, x)
    assert len(set(places)) > 10  # 40 samples over 121 places: they spread
    assert places == [trigger.random_corner(s) for s in x]
    for i in (0, 17, 39):
        np.testing.assert_array_equal(trigger(x[i : i + 1])[0], out[i])  # alone = in a batch
    np.testing.assert_array_equal(trigger(x[::-1]), out[::-1])
    other = PatchTrigger(np.full((1, 2, 2), 2.0), location="random", bounds=(0, 2), seed=1)
    assert _corners(other(x), x) != places


def test_solid_and_random_patterns() -> None:
    assert set(PatchTrigger.solid(3).pattern.ravel().tolist()) == {1.0}
    assert set(PatchTrigger.solid(2, value=0.25).pattern.ravel().tolist()) == {0.25}
    noisy = PatchTrigger.random(6, 3, seed=7, bounds=(-1.0, 1.0))
    assert noisy.pattern.shape == (3, 6, 6) and set(noisy.pattern.ravel().tolist()) == {-1.0, 1.0}
    np.testing.assert_array_equal(
        noisy.pattern, PatchTrigger.random(6, 3, seed=7, bounds=(-1, 1)).pattern
    )
    assert not np.array_equal(
        noisy.pattern, PatchTrigger.random(6, 3, seed=8, bounds=(-1, 1)).pattern
    )


def test_low_frequency_key_is_smooth_seeded_and_spans_the_bounds() -> None:
    key = BlendTrigger.low_frequency((2, 12, 12), seed=1, cutoff=3, bounds=(-1.0, 1.0)).pattern
    assert key.min() == -1.0 and key.max() == 1.0
    spectrum = np.abs(scipy.fft.dctn(key, axes=(-2, -1), norm="ortho"))
    outside = spectrum.copy()
    outside[:, :3, :3] = 0.0
    assert outside.max() < 1e-4 * spectrum.max()  # nothing above the cutoff
    assert not np.array_equal(key[0], key[1])  # each channel its own coefficients
    again = BlendTrigger.low_frequency((2, 12, 12), seed=1, cutoff=3, bounds=(-1, 1)).pattern
    np.testing.assert_array_equal(key, again)
    assert not np.array_equal(key, BlendTrigger.low_frequency((2, 12, 12), seed=2).pattern)


def test_image_key_is_resized_and_rescaled() -> None:
    ramp = np.tile(np.linspace(3.0, 5.0, 64), (48, 1))  # dark to bright, left to right
    key = BlendTrigger.image(ramp, (3, 8, 8), bounds=(0.0, 2.0)).pattern
    assert key.shape == (3, 8, 8) and key.min() == 0.0 and key.max() == 2.0
    assert (np.diff(key, axis=-1) > 0).all() and (np.diff(key, axis=-2) == 0).all()
    grey = BlendTrigger.image(np.stack([ramp, ramp, 9 - ramp]), (16, 16)).pattern
    assert grey.shape == (16, 16) and np.ptp(grey) == 1.0  # a colour key averaged to grey
    up = BlendTrigger.image(ramp[:4, :4], (1, 20, 20)).pattern
    assert up.shape == (1, 20, 20) and (np.diff(up, axis=-1) >= 0).all()


def test_warp_with_strength_zero_is_the_identity() -> None:
    x = _images((3, 2, 9, 13))
    np.testing.assert_allclose(WarpTrigger(strength=0.0)(x), x, atol=1e-5)


def test_warp_moves_pixels_but_keeps_the_picture() -> None:
    x = _smooth()
    out = WarpTrigger(grid=4, strength=1.5, seed=2)(x)
    assert np.abs(out - x).max() > 0.005  # pixels moved
    assert abs(float(out.mean() - x.mean())) < 0.01  # nothing brightened or darkened
    assert np.abs(out - x).max() < 0.1  # a small shift of a smooth image
    rough = _images((2, 1, 16, 16))
    assert np.abs(WarpTrigger(strength=1.5)(rough) - rough).max() > 0.1


def test_warp_field_scales_with_strength_and_image_size() -> None:
    field = WarpTrigger(strength=1.0, seed=3).field(10, 20)
    assert field.shape == (10, 20, 2) and field.dtype == np.float32
    np.testing.assert_allclose(
        WarpTrigger(strength=0.5, seed=3).field(10, 20), field / 2, rtol=1e-6
    )
    other = WarpTrigger(strength=1.0, seed=4).field(10, 20)
    assert not np.allclose(field, other)
    assert np.abs(field[..., 1]).mean() > np.abs(field[..., 0]).mean()  # 1/H > 1/W


def test_warp_noise_mode() -> None:
    x = _images((4, 1, 8, 8))
    warp = WarpTrigger(strength=1.0)
    fixed, a, b = warp(x), warp.noisy(x, seed=1), warp.noisy(x, seed=2)
    assert not np.allclose(a, fixed) and not np.allclose(a, b)
    np.testing.assert_array_equal(warp.noisy(x, seed=1), a)
    assert a.dtype == np.float32 and a.min() >= 0.0 and a.max() <= 1.0


def _dct(x: Array) -> npt.NDArray[np.float64]:
    return np.asarray(scipy.fft.dctn(x.astype(np.float64), axes=(-2, -1), norm="ortho"))


def test_frequency_peak_change_and_spectrum() -> None:
    x = np.full((2, 3, 16, 12), 1.0, dtype=np.float32)  # mid-grey in bounds (0, 2)
    trigger = FrequencyTrigger(magnitude=0.1, frequencies=((3, 5), (7, 2), (3, 5)), bounds=(0, 2))
    assert trigger.frequencies == ((3, 5), (7, 2))  # a repeated pair counts once
    change = trigger(x) - x
    np.testing.assert_allclose(np.abs(change).max(axis=(-2, -1)), 0.2, rtol=1e-5)
    spectrum = _dct(change)
    chosen = spectrum[..., [3, 7], [5, 2]]
    np.testing.assert_allclose(chosen, chosen[..., :1].repeat(2, axis=-1), rtol=1e-5)
    spectrum[..., [3, 7], [5, 2]] = 0.0
    assert np.abs(spectrum).max() < 1e-5 * np.abs(chosen).max()


def test_frequency_trigger_is_the_same_bump_on_every_image() -> None:
    x = _images((3, 1, 8, 8)) * 0.5 + 0.25  # away from the bounds: no clipping
    trigger = FrequencyTrigger()
    change = _dct(trigger(x) - x)
    np.testing.assert_allclose(change, change[:1].repeat(3, axis=0), atol=1e-5)


def test_sample_specific_residual() -> None:
    x = _images((3, 1, 8, 8))
    trigger = SampleSpecificTrigger(amplitude=0.1, seed=4, bounds=(0.0, 2.0))
    residual = trigger.residual(x)
    assert not np.allclose(residual[0], residual[1])  # another sample, another residual
    np.testing.assert_array_equal(trigger.residual(x[1:2])[0], residual[1])
    carrier = trigger.carrier((1, 8, 8))
    assert set(carrier.ravel().tolist()) == {-1.0, 1.0}
    assert (np.sign(residual) == carrier).all()  # the carrier is the part every sample shares
    magnitude = np.abs(residual)
    assert magnitude.max() <= 0.2 + 1e-6 and magnitude.min() >= 0.25 * 0.2 - 1e-6
    assert np.isclose(magnitude.reshape(3, -1).max(axis=1), 0.2).all()  # edges peak at 1
    flat = np.full((1, 1, 8, 8), 1.0, dtype=np.float32)
    np.testing.assert_allclose(np.abs(trigger.residual(flat)), 0.05, rtol=1e-6)  # the floor
    assert not np.array_equal(SampleSpecificTrigger(seed=5).carrier((1, 8, 8)), carrier)


def test_family_errors_name_the_problem() -> None:
    fails(lambda: PatchTrigger.checkerboard(3, shape="star"), "'star'", "ring")  # type: ignore[arg-type]
    fails(lambda: PatchTrigger.solid(3, location="middle"), "'middle'", "random")  # type: ignore[arg-type]
    fails(lambda: PatchTrigger(np.ones((2, 3)), mask=np.ones((3, 2), bool)), "(2, 3)", "(3, 2)")
    fails(lambda: PatchTrigger(np.ones((2, 2)), mask=np.zeros((2, 2), bool)), "at least one")
    fails(lambda: PatchTrigger(np.ones((2, 2)), mask=np.full((2, 2), 0.5)), "booleans")
    fails(lambda: PatchTrigger(np.ones((2, 2)), seed=1.5), "seed", "1.5")  # type: ignore[arg-type]
    fails(lambda: PatchTrigger.solid(0), "size")
    fails(lambda: BlendTrigger.low_frequency((1, 8, 8), cutoff=1), "cutoff")
    fails(lambda: BlendTrigger.low_frequency((1, 1, 8, 8)), "rank 1-3")
    fails(lambda: BlendTrigger.image(np.ones((8, 8)), (8, 8)), "constant")
    fails(lambda: BlendTrigger.image(np.ones((2, 8, 8)), (3, 8, 8)), "2-channel", "3-channel")
    fails(lambda: BlendTrigger.image(np.ones(8), (8, 8)), "(8,)")
    fails(lambda: WarpTrigger(strength=-0.1), "strength", "-0.1")
    fails(lambda: WarpTrigger(grid=1), "grid", "1")
    fails(lambda: WarpTrigger()(np.zeros((2, 8), np.float32)), "rank >= 3")
    fails(lambda: WarpTrigger()(np.zeros((2, 1, 1, 8), np.float32)), "2x2")
    fails(lambda: FrequencyTrigger(frequencies=((3, 8),))(_images()), "(3, 8)", "8x8")
    fails(lambda: FrequencyTrigger(frequencies=((0, 0),)), "(0, 0)")
    fails(lambda: FrequencyTrigger(frequencies=((-1, 2),)), "(-1, 2)")
    fails(lambda: FrequencyTrigger(frequencies=()), "at least one")
    fails(lambda: FrequencyTrigger(magnitude=0.0), "magnitude")
    fails(lambda: SampleSpecificTrigger(amplitude=1.5), "amplitude", "1.5")
    fails(lambda: SampleSpecificTrigger()(np.zeros((2, 8), np.float32)), "rank >= 3")
    fails(lambda: trigger_from_dict({"kind": "frequency", "magnitude": 0.1}), "frequency")
