"""Poisoned data on disk: exact round trip, no pickles, atomic writes, clear mask errors."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import IO

import numpy as np
import pytest
from tests.poisoning._errors import fails

from redline.datasets import load_breast_cancer, load_digits
from redline.poisoning._asr import triggered_test_set
from redline.poisoning._attacks import SIG, BadNets, Blended, LabelFlip
from redline.poisoning._io import load_mask, load_poisoned, save_poisoned
from redline.poisoning._poisoner import Poisoner
from redline.poisoning._types import PoisonedData


def _digits_poisoned(poisoner: Poisoner) -> PoisonedData:
    train = load_digits("train")
    return poisoner.poison(train.x, train.y, seed=3)


def _assert_same(a: PoisonedData, b: PoisonedData) -> None:
    np.testing.assert_array_equal(a.data.x, b.data.x)
    np.testing.assert_array_equal(a.data.y, b.data.y)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.original_labels, b.original_labels)
    assert b.data.sha256 == a.data.sha256 and b.data.source == a.data.source
    assert (b.attack, b.rate, b.target_class, b.params) == (
        a.attack,
        a.rate,
        a.target_class,
        a.params,
    )
    assert b.mask.dtype == np.bool_ and b.original_labels.dtype == np.int64


@pytest.mark.parametrize(
    "poisoner",
    [
        BadNets(target_class=4, rate=0.05),
        BadNets(rate=0.1, mode="all-to-all"),
        Blended(rate=0.1),
        SIG(target_class=2, rate=0.05),
        LabelFlip(rate=0.1, mode="targeted", source_class=1, target_class=7),
        LabelFlip(rate=0.1),
    ],
    ids=["badnets", "all-to-all", "blended", "sig", "flip-targeted", "flip-random"],
)
def test_round_trip(tmp_path: Path, poisoner: Poisoner) -> None:
    poisoned = _digits_poisoned(poisoner)
    path = save_poisoned(poisoned, tmp_path / "poisoned.npz")
    loaded = load_poisoned(path)
    _assert_same(poisoned, loaded)
    if poisoned.trigger is None:
        assert loaded.trigger is None
        return
    assert loaded.trigger is not None
    assert loaded.trigger.to_dict() == poisoned.trigger.to_dict()
    test = load_digits("test")
    for before, after in zip(
        triggered_test_set(poisoned, test.x, test.y),
        triggered_test_set(loaded, test.x, test.y),
        strict=True,
    ):
        np.testing.assert_array_equal(before, after)  # ASR can be re-measured later


def test_tabular_round_trip(tmp_path: Path) -> None:
    train = load_breast_cancer("train")
    poisoned = BadNets(rate=0.1).poison(train.x, train.y, seed=0)
    loaded = load_poisoned(save_poisoned(poisoned, tmp_path / "p.npz"))
    _assert_same(poisoned, loaded)
    assert loaded.trigger is not None and loaded.trigger.to_dict()["kind"] == "feature-patch"


def test_file_holds_plain_arrays_and_json(tmp_path: Path) -> None:
    path = save_poisoned(_digits_poisoned(Blended(rate=0.1)), tmp_path / "p.npz")
    with np.load(path, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(
            ["x", "y", "mask", "original_labels", "meta", "trigger_pattern"]
        )
        assert all(archive[key].dtype != object for key in archive.files)
        meta = json.loads(str(archive["meta"]))
        assert archive["trigger_pattern"].shape == (1, 8, 8)
    assert meta["format"] == "redline.poisoned/1" and meta["attack"] == "blended"
    assert "pattern" not in meta["trigger"]  # the pattern lives in its own array
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]  # no temp file left behind


def test_overwrite_is_atomic_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "p.npz"
    save_poisoned(_digits_poisoned(BadNets(rate=0.05)), path)
    second = _digits_poisoned(SIG(rate=0.05))
    save_poisoned(second, path)
    assert load_poisoned(path).attack == "sig"
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "p.npz"
    save_poisoned(_digits_poisoned(BadNets(rate=0.05)), path)
    second = _digits_poisoned(SIG(rate=0.05))

    def crash(handle: IO[bytes], **arrays: object) -> None:
        handle.write(b"PK half a zip")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez_compressed", crash)
    with pytest.raises(OSError, match="disk full"):
        save_poisoned(second, path)
    monkeypatch.undo()
    assert load_poisoned(path).attack == "badnets"
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]


def test_unserialisable_params_are_an_input_error(tmp_path: Path) -> None:
    bad = _digits_poisoned(SIG(rate=0.05))
    odd = PoisonedData(
        bad.data, bad.mask, bad.original_labels, "sig", 0.05, 0, bad.trigger, {"f": object()}
    )
    fails(lambda: save_poisoned(odd, tmp_path / "p.npz"), "JSON")
    assert list(tmp_path.iterdir()) == []


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    not_zip = tmp_path / "a.npz"
    not_zip.write_text("hello", encoding="utf-8")
    fails(lambda: load_poisoned(not_zip), str(not_zip), "not a zip")
    fails(lambda: load_poisoned(tmp_path / "none.npz"), "none.npz", "no such file")
    partial = tmp_path / "b.npz"
    np.savez(partial, x=np.zeros((2, 3)), y=[0, 1])
    fails(lambda: load_poisoned(partial), str(partial), "missing", "'mask'")
    other = tmp_path / "c.npz"
    meta = np.array(json.dumps({"format": "something/2"}))
    np.savez(
        other, x=np.zeros((2, 3)), y=[0, 1], mask=[True, False], original_labels=[0, 1], meta=meta
    )
    fails(lambda: load_poisoned(other), "something/2", "redline.poisoned/1")
    short = tmp_path / "d.npz"
    np.savez(
        short, x=np.zeros((3, 3)), y=[0, 1, 1], mask=[True], original_labels=[0, 1, 1], meta=meta
    )
    fails(lambda: load_poisoned(short), "'mask'", "(1,)", "(3, 3)")


def test_object_arrays_are_refused_not_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "evil.npz"
    np.savez(path, x=np.array([{"a": 1}], dtype=object), y=[0])
    fails(lambda: load_poisoned(path), str(path))
    with zipfile.ZipFile(path) as archive:
        assert "x.npy" in archive.namelist()


def test_load_mask_from_poisoned_file_and_npy(tmp_path: Path) -> None:
    poisoned = _digits_poisoned(BadNets(rate=0.05))
    path = save_poisoned(poisoned, tmp_path / "p.npz")
    np.testing.assert_array_equal(load_mask(path, len(poisoned.mask)), poisoned.mask)
    npy = tmp_path / "mask.npy"
    np.save(npy, poisoned.mask.astype(np.int8))
    mask = load_mask(npy, len(poisoned.mask))
    assert mask.dtype == np.bool_ and (mask == poisoned.mask).all()


def test_mismatched_mask_names_both_sizes(tmp_path: Path) -> None:
    poisoned = _digits_poisoned(BadNets(rate=0.05))
    path = save_poisoned(poisoned, tmp_path / "p.npz")
    fails(lambda: load_mask(path, 359), str(path), "(1438,)", "359 samples")
    square = tmp_path / "square.npy"
    np.save(square, np.zeros((4, 4), dtype=bool))
    fails(lambda: load_mask(square, 16), "(4, 4)", "16 samples")
    values = tmp_path / "values.npy"
    np.save(values, np.array([0.5, 1.0]))
    fails(lambda: load_mask(values, 2), "booleans or 0/1", "float64")
    no_mask = tmp_path / "data.npz"
    np.savez(no_mask, x=np.zeros((2, 2)))
    fails(lambda: load_mask(no_mask, 2), "no 'mask'", "['x']")
