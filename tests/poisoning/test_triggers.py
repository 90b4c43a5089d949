"""Backdoor triggers: exact outputs, bounds, no mutation, validation, dict round trip."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import numpy.typing as npt
import pytest
from tests.poisoning._errors import fails

from redline.poisoning._triggers import (
    BlendTrigger,
    FeaturePatchTrigger,
    PatchTrigger,
    SignalTrigger,
    trigger_from_dict,
)
from redline.poisoning._types import Trigger

Array = npt.NDArray[np.float32]


def _images(shape: tuple[int, ...] = (5, 1, 8, 8), seed: int = 0) -> Array:
    return np.random.default_rng(seed).random(shape).astype(np.float32)


TRIGGERS: dict[str, tuple[Trigger, tuple[int, ...]]] = {
    "checkerboard": (PatchTrigger.checkerboard(), (6, 1, 8, 8)),
    "patch-rgb-top-left": (
        PatchTrigger(np.full((3, 2, 2), 0.9), location="top-left"),
        (4, 3, 10, 10),
    ),
    "feature-patch": (FeaturePatchTrigger((0, 5), (1.0, 0.0)), (7, 6)),
    "blend": (BlendTrigger.noise((1, 8, 8), seed=3, alpha=0.3), (6, 1, 8, 8)),
    "blend-tabular": (BlendTrigger.noise((6,), seed=1), (5, 6)),
    "signal": (SignalTrigger(amplitude=0.2, frequency=3), (6, 1, 8, 8)),
}


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_shape_bounds_and_no_mutation(name: str) -> None:
    trigger, shape = TRIGGERS[name]
    x = _images(shape)
    before = x.copy()
    out = trigger(x)
    np.testing.assert_array_equal(x, before)  # the input is never written to
    assert out.shape == x.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert not np.array_equal(out, x)
    assert isinstance(trigger, Trigger)


@pytest.mark.parametrize("name", sorted(TRIGGERS))
def test_round_trip_through_json(name: str) -> None:
    trigger, shape = TRIGGERS[name]
    described = json.loads(json.dumps(trigger.to_dict()))
    rebuilt = trigger_from_dict(described)
    assert type(rebuilt) is type(trigger)
    assert rebuilt.to_dict() == trigger.to_dict()
    x = _images(shape, seed=5)
    np.testing.assert_array_equal(rebuilt(x), trigger(x))


def test_round_trip_with_the_pattern_kept_as_an_array() -> None:
    trigger = BlendTrigger.noise((1, 4, 4), seed=2)
    described = trigger.to_dict() | {"pattern": trigger.pattern}
    rebuilt = trigger_from_dict(described)
    assert isinstance(rebuilt, BlendTrigger)
    np.testing.assert_array_equal(rebuilt.pattern, trigger.pattern)


def test_checkerboard_pastes_exactly_in_the_corner() -> None:
    x = np.full((2, 1, 8, 8), 0.5, dtype=np.float32)
    out = PatchTrigger.checkerboard(size=3)(x)
    board = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 1]], dtype=np.float32)
    np.testing.assert_array_equal(out[:, 0, 5:, 5:], np.broadcast_to(board, (2, 3, 3)))
    untouched = np.ones((8, 8), dtype=bool)
    untouched[5:, 5:] = False
    assert (out[:, 0][:, untouched] == 0.5).all()


@pytest.mark.parametrize(
    ("location", "corner"),
    [
        ("top-left", (0, 0)),
        ("top-right", (0, 6)),
        ("bottom-left", (6, 0)),
        ("center", (3, 3)),
        ((1, 4), (1, 4)),
    ],
)
def test_patch_locations(location: object, corner: tuple[int, int]) -> None:
    trigger = PatchTrigger(np.ones((2, 2)), location=location)  # type: ignore[arg-type]
    out = trigger(np.zeros((1, 1, 8, 8), dtype=np.float32))
    rows, cols = np.nonzero(out[0, 0])
    assert (rows.min(), cols.min()) == corner and out.sum() == 4


def test_patch_on_channelless_and_multichannel_images() -> None:
    out = PatchTrigger.checkerboard()(np.zeros((3, 8, 8), dtype=np.float32))
    assert out.shape == (3, 8, 8) and out[:, -1, -1].tolist() == [1.0, 1.0, 1.0]
    rgb = PatchTrigger.checkerboard(channels=3)(np.zeros((2, 3, 6, 6), dtype=np.float32))
    assert rgb[:, :, -3:, -3:].sum() == 2 * 3 * 5
    gray_on_rgb = PatchTrigger(np.ones((2, 2)))(np.zeros((1, 3, 6, 6), dtype=np.float32))
    assert gray_on_rgb.sum() == 3 * 4


def test_patch_values_are_clipped_to_the_bounds() -> None:
    out = PatchTrigger(np.full((2, 2), 7.0), bounds=(0.0, 2.0))(np.zeros((1, 1, 4, 4), np.float32))
    assert out.max() == 2.0
    board = PatchTrigger.checkerboard(bounds=(-1.0, 1.0)).pattern
    assert set(board.ravel().tolist()) == {-1.0, 1.0}


def test_patch_errors_name_the_problem() -> None:
    fails(lambda: PatchTrigger(np.ones((2, 2)), location="middle"), "'middle'")  # type: ignore[arg-type]
    fails(lambda: PatchTrigger(np.ones((2, 2, 2, 2))), "(2, 2, 2, 2)")
    fails(lambda: PatchTrigger(np.full((2, 2), np.nan)), "NaN")
    fails(lambda: PatchTrigger.checkerboard(size=9)(_images()), "9x9", "8x8")
    fails(lambda: PatchTrigger(np.ones((2, 2)), location=(7, 0))(_images()), "(7, 0)")
    rgb = PatchTrigger.checkerboard(channels=3)
    fails(lambda: rgb(_images((2, 2, 8, 8))), "3-channel", "2-channel")
    fails(lambda: PatchTrigger(np.ones((2, 2)))(np.zeros((3, 4), np.float32)), "(3, 4)")
    fails(lambda: PatchTrigger(np.ones((2, 2)), bounds=(1.0, 0.0)), "low < high")


def test_trigger_is_frozen_and_owns_its_pattern() -> None:
    pattern = np.ones((2, 2), dtype=np.float32)
    trigger = PatchTrigger(pattern)
    pattern[:] = 0.0  # the caller's array is copied, not kept
    assert trigger.pattern.sum() == 4
    with pytest.raises(ValueError, match="read-only"):
        trigger.pattern[0, 0] = 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        trigger.location = "top-left"  # type: ignore[misc]


def test_feature_patch_sets_only_its_columns() -> None:
    x = _images((4, 5))
    out = FeaturePatchTrigger((1, 3), (0.25, 0.75))(x)
    np.testing.assert_array_equal(out[:, [1, 3]], np.tile([0.25, 0.75], (4, 1)))
    np.testing.assert_array_equal(out[:, [0, 2, 4]], x[:, [0, 2, 4]])
    last = FeaturePatchTrigger.last(5, 3)
    assert last.indices == (2, 3, 4) and last.values == (1.0, 0.0, 1.0)


def test_feature_patch_errors() -> None:
    fails(lambda: FeaturePatchTrigger((0, 1), (1.0,)), "2 indices", "1 values")
    fails(lambda: FeaturePatchTrigger((1, 1), (1.0, 0.0)), "distinct")
    fails(lambda: FeaturePatchTrigger((9,), (1.0,))(_images((2, 4))), "9", "(2, 4)")
    fails(lambda: FeaturePatchTrigger.last(2, 3), "last 3 of 2")


def test_blend_is_the_convex_combination() -> None:
    trigger = BlendTrigger(np.full((1, 4, 4), 1.0), alpha=0.25)
    x = _images((3, 1, 4, 4))
    np.testing.assert_allclose(trigger(x), 0.75 * x + 0.25, rtol=1e-6)


def test_blend_noise_is_seeded() -> None:
    a, b = BlendTrigger.noise((1, 8, 8), seed=7), BlendTrigger.noise((1, 8, 8), seed=7)
    np.testing.assert_array_equal(a.pattern, b.pattern)
    assert not np.array_equal(a.pattern, BlendTrigger.noise((1, 8, 8), seed=8).pattern)
    wide = BlendTrigger.noise((1000,), seed=0, bounds=(-2.0, 2.0)).pattern
    assert -2.0 <= wide.min() < -1.5 and 1.5 < wide.max() <= 2.0


def test_blend_errors() -> None:
    fails(lambda: BlendTrigger(np.ones((1, 4, 4)), alpha=1.5), "alpha", "1.5")
    fails(lambda: BlendTrigger(np.ones((1, 4, 4)))(_images((2, 1, 8, 8))), "(1, 4, 4)", "(1, 8, 8)")


def test_signal_is_a_horizontal_sinusoid_in_bounds_width_units() -> None:
    x = np.full((2, 1, 5, 16), 100.0, dtype=np.float32)
    trigger = SignalTrigger(amplitude=0.1, frequency=2, bounds=(0.0, 200.0))
    out = trigger(x)
    expected = 100.0 + 20.0 * np.sin(2 * np.pi * np.arange(16) * 2 / 16)
    np.testing.assert_allclose(out[0, 0], np.tile(expected, (5, 1)), rtol=1e-5, atol=1e-4)
    assert np.isclose(out.max(), 120.0) and np.isclose(out.min(), 80.0)


def test_signal_clips_at_the_bounds() -> None:
    out = SignalTrigger(amplitude=0.5, frequency=1)(np.zeros((1, 1, 4, 8), np.float32))
    assert out.min() == 0.0 and np.isclose(out.max(), 0.5)


def test_signal_errors() -> None:
    fails(lambda: SignalTrigger(amplitude=0.0), "amplitude", "0.0")
    fails(lambda: SignalTrigger(frequency=-1), "frequency", "-1")


def test_trigger_from_dict_errors() -> None:
    fails(lambda: trigger_from_dict({"kind": "ripple"}), "'ripple'", "patch", "warp")
    fails(lambda: trigger_from_dict({"kind": "warp"}), "malformed warp", "grid")
    fails(lambda: trigger_from_dict({"kind": "blend", "pattern": [[1.0]]}), "blend")
    fails(lambda: trigger_from_dict([1, 2]), "list")  # type: ignore[arg-type]
