"""load_data: .npz, .csv, image folders and bundled sets, and every bad input."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from redline.datasets._loaders import load_data
from redline.errors import InputError


def _fails(spec: str | Path, *parts: str, **kwargs: Any) -> str:
    with pytest.raises(InputError) as info:
        load_data(spec, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(str(spec)), message
    for part in parts:
        assert part in message, message
    return message


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# --- .npz ------------------------------------------------------------------------------


def test_npz_with_groups_and_class_names(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    x = np.random.default_rng(0).random((4, 1, 2, 2))
    np.savez(path, x=x, y=[0, 1, 2, 1], groups=["a", "b", "a", "b"], class_names=["c", "d", "e"])
    data = load_data(path, bounds=(0.0, 1.0))
    assert data.source == str(path)
    assert data.x.dtype == np.float32 and data.x.shape == (4, 1, 2, 2)
    np.testing.assert_allclose(data.x, x, rtol=1e-6)
    np.testing.assert_array_equal(data.y, [0, 1, 2, 1])
    assert data.groups is not None and data.groups.tolist() == ["a", "b", "a", "b"]
    assert data.class_names == ("c", "d", "e") and data.num_classes == 3
    assert len(data.sha256) == 64


def test_npz_group_column_names_the_key(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((2, 3)), y=[0, 1], site=[1, 2])
    data = load_data(path, group_column="site")
    assert data.groups is not None and data.groups.tolist() == ["1", "2"]
    _fails(path, "missing key 'region'", "found: x, y, site", group_column="region")


def test_npz_missing_key(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((2, 3)), labels=[0, 1])
    _fails(path, "missing key 'y'", "found: x, labels")


def test_npz_object_arrays_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x=np.array([{"a": 1}, None], dtype=object), y=[0, 1])
    _fails(path, "'x' is an object array", "unpickle")


@pytest.mark.parametrize("content", ["random", "truncated", "empty", "npy"])
def test_npz_unreadable(tmp_path: Path, content: str) -> None:
    good = tmp_path / "good.npz"
    np.savez(good, x=np.zeros((20, 30)), y=np.zeros(20))
    raw = {
        "random": np.random.default_rng(0).bytes(500),
        "truncated": good.read_bytes()[:300],
        "empty": b"",
        "npy": b"\x93NUMPY" + bytes(100),
    }[content]
    path = tmp_path / "bad.npz"
    path.write_bytes(raw)
    _fails(path, "not a readable .npz archive")


def test_npz_corrupt_member(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x=np.arange(4000.0).reshape(40, 100), y=np.zeros(40))
    raw = bytearray(path.read_bytes())
    raw[200:260] = bytes(60)  # inside x's data: the zip CRC check fails on read
    path.write_bytes(bytes(raw))
    _fails(path, "cannot read 'x'")


def test_npz_values_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    x = np.zeros((3, 2))
    x[0, 0] = np.nan
    np.savez(path, x=x, y=[0, 1, 1])
    _fails(path, "1 value is NaN in x")
    np.savez(path, x=np.zeros((3, 2)), y=[0, 1, 5])
    _fails(path, "1 label is >= num_classes=2", num_classes=2)


def test_class_names_must_agree_with_num_classes(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    np.savez(path, x=np.zeros((2, 2)), y=[0, 1], class_names=["a", "b"])
    _fails(path, "names 2 classes (a, b) but num_classes is 10", num_classes=10)
    np.savez(path, x=np.zeros((2, 2)), y=[0, 2], class_names=["a", "b"])
    _fails(path, ">= num_classes=2")


# --- .csv ------------------------------------------------------------------------------


def test_csv_features_labels_groups(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "a,label,site,b\n0.5,1,x,0.25\n\n1,0,y,0\n")
    data = load_data(path, group_column="site")
    assert data.source == str(path)
    np.testing.assert_array_equal(data.x, np.array([[0.5, 0.25], [1.0, 0.0]], np.float32))
    np.testing.assert_array_equal(data.y, [1, 0])
    assert data.groups is not None and data.groups.tolist() == ["x", "y"]
    assert data.class_names is None


def test_csv_label_names_and_custom_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "t.csv", "\ufefff1,kind\n1,dog\n2,cat\n3,dog\n")
    data = load_data(path, label_column="kind")
    assert data.class_names == ("cat", "dog")
    np.testing.assert_array_equal(data.y, [1, 0, 1])
    np.testing.assert_array_equal(data.x[:, 0], [1, 2, 3])


def test_csv_whole_float_labels_are_accepted(tmp_path: Path) -> None:
    data = load_data(_write(tmp_path / "t.csv", "f,label\n1,1.0\n2,0.0\n"))
    np.testing.assert_array_equal(data.y, [1, 0])
    _fails(_write(tmp_path / "u.csv", "f,label\n1,1.5\n"), "not a whole number in y")


@pytest.mark.parametrize(
    ("text", "kwargs", "parts"),
    [
        ("", {}, ["is empty (no header row)"]),
        ("a,label\n", {}, ["has a header but no data rows"]),
        ("a,b\n1,2\n", {}, ["no column 'label'", "columns: a, b"]),
        ("a,label\n1,0\n", {"group_column": "g"}, ["no column 'g'"]),
        ("label,label,a\n0,1,2\n", {}, ["column 'label' appears 2 times"]),
        ("label\n0\n", {}, ["no feature columns besides 'label'"]),
        ("a,b,label\n1,2,0\n3,abc,1\n", {}, ["line 3, column 'b': 'abc' is not a number"]),
        ("a,b,label\n1,,0\n", {}, ["line 2, column 'b': an empty cell is not a number"]),
        ("a,label\n1,0\n2,1,7\n", {}, ["line 3 has 3 cells but the header has 2"]),
        ("a,label\n1,0\n2,x\n", {}, ["line 3, column 'label': label 'x' is not a number"]),
        ("a,label\n1,0\n2, \n", {}, ["line 3, column 'label': the label is empty"]),
        ("a,label\n1,0\nnan,1\n", {}, ["1 value is NaN in x"]),
        ("a,label\n2,0\n", {"bounds": (0.0, 1.0)}, ["outside the bounds [0, 1]", "max 2"]),
    ],
)
def test_csv_bad_input(tmp_path: Path, text: str, kwargs: dict[str, Any], parts: list[str]) -> None:
    _fails(_write(tmp_path / "t.csv", text), *parts, **kwargs)


def test_csv_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,label\n\xff\xfe,0\n")
    _fails(path, "not a readable UTF-8 CSV file")


# --- image folders ---------------------------------------------------------------------


def _image(path: Path, pixels: Any, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels, dtype=np.uint8), mode).save(path)


def test_grayscale_folder(tmp_path: Path) -> None:
    _image(tmp_path / "dog" / "a.png", np.full((3, 2), 255))
    _image(tmp_path / "cat" / "b.bmp", np.zeros((3, 2)))
    _image(tmp_path / "cat" / "c.gif", np.full((3, 2), 51))
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    (tmp_path / "readme.md").write_text("top-level files are ignored")
    data = load_data(tmp_path, bounds=(0.0, 1.0))
    assert data.source == str(tmp_path)
    assert data.class_names == ("cat", "dog")
    assert data.x.shape == (3, 1, 3, 2) and data.x.dtype == np.float32
    np.testing.assert_array_equal(data.y, [0, 0, 1])
    np.testing.assert_allclose(data.x[:, 0, 0, 0], [0.0, 0.2, 1.0], atol=1e-6)


def test_mixed_folder_becomes_rgb(tmp_path: Path) -> None:
    rgb = np.zeros((2, 2, 3))
    rgb[..., 0] = 255
    _image(tmp_path / "a" / "color.png", rgb)
    _image(tmp_path / "b" / "gray.jpg", np.full((2, 2), 128))
    data = load_data(tmp_path)
    assert data.x.shape == (2, 3, 2, 2)
    np.testing.assert_allclose(data.x[0, :, 0, 0], [1.0, 0.0, 0.0])
    gray = data.x[1, :, 0, 0]
    assert gray[0] == gray[1] == gray[2] and abs(float(gray[0]) - 128 / 255) < 0.02


def test_integer_folders_keep_their_numbers(tmp_path: Path) -> None:
    for name in ("10", "2", "9"):
        _image(tmp_path / name / "x.png", np.zeros((2, 2)))
    data = load_data(tmp_path, num_classes=11)
    np.testing.assert_array_equal(data.y, [2, 9, 10])
    assert data.class_names is None


def test_folder_class_count_must_match_num_classes(tmp_path: Path) -> None:
    _image(tmp_path / "cat" / "x.png", np.zeros((2, 2)))
    _fails(tmp_path, "names 1 classes (cat) but num_classes is 10", num_classes=10)


def test_folder_images_must_share_a_size(tmp_path: Path) -> None:
    _image(tmp_path / "a" / "first.png", np.zeros((4, 4)))
    _image(tmp_path / "b" / "odd.png", np.zeros((4, 3)))
    _fails(tmp_path, "b/odd.png is 3x4 pixels but a/first.png is 4x4")


def test_folder_unreadable_image(tmp_path: Path) -> None:
    _image(tmp_path / "a" / "ok.png", np.zeros((2, 2)))
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "broken.png").write_bytes(b"\x89PNG not really")
    _fails(tmp_path, "cannot read image b/broken.png")


def test_folder_without_classes_or_images(tmp_path: Path) -> None:
    _fails(tmp_path, "has no class sub-folders")
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.txt").write_text("no images")
    _fails(tmp_path, "no images (png, jpg, jpeg, bmp, gif)")


def test_folder_has_no_group_column(tmp_path: Path) -> None:
    _image(tmp_path / "a" / "x.png", np.zeros((2, 2)))
    _fails(tmp_path, "image folders have no group column", group_column="g")


# --- bundled, paths --------------------------------------------------------------------


def test_bundled_sets() -> None:
    digits = load_data("bundled:digits", bounds=(0.0, 1.0), num_classes=10)
    assert digits.x.shape == (359, 1, 8, 8) and digits.source == "bundled:digits[test]"
    assert len(load_data("bundled:digits:train")) == 1797 - 359
    cancer = load_data("bundled:breast_cancer:all")
    assert cancer.x.shape == (569, 30) and cancer.class_names == ("malignant", "benign")


@pytest.mark.parametrize(
    ("spec", "part"),
    [
        ("bundled:mnist", "unknown bundled data set (known: bundled:digits"),
        ("bundled:digits:val", "unknown split 'val'"),
        ("bundled:digits:test:x", "unknown bundled data set"),
    ],
)
def test_bundled_bad_names(spec: str, part: str) -> None:
    _fails(spec, part)


def test_bundled_checks_num_classes() -> None:
    _fails("bundled:digits", "names 10 classes", "num_classes is 5", num_classes=5)
    _fails("bundled:digits", "have no group column", group_column="g")


def test_missing_path_and_unknown_extension(tmp_path: Path) -> None:
    _fails(tmp_path / "nope.npz", "no such file or directory")
    _fails(_write(tmp_path / "data.txt", "1,2"), "unsupported data format '.txt'")
    _fails(_write(tmp_path / "data", "1,2"), "unsupported data format '(no extension)'")


def test_palette_images_in_colour_stay_rgb(tmp_path: Path) -> None:
    colour = Image.new("P", (2, 2))
    colour.putpalette([255, 0, 0] * 256)
    (tmp_path / "a").mkdir()
    colour.save(tmp_path / "a" / "red.gif")
    data = load_data(tmp_path)
    assert data.x.shape == (1, 3, 2, 2)
    np.testing.assert_allclose(data.x[0, :, 0, 0], [1.0, 0.0, 0.0])
