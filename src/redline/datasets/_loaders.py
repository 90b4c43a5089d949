"""Load an evaluation set from .npz, .csv, an image folder or a bundled name, validated."""

from __future__ import annotations

import csv
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.datasets._bundled import Split, load_breast_cancer, load_digits
from redline.datasets._dataset import Dataset
from redline.datasets._validate import one_line, validate_arrays
from redline.errors import InputError

__all__ = ["IMAGE_SUFFIXES", "load_data"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_BUNDLED = {"digits": load_digits, "breast_cancer": load_breast_cancer}
_SPLITS: dict[str, Split] = {"train": "train", "test": "test", "all": "all"}
_GRAY_MODES = ("1", "L", "LA")

Raw = tuple[npt.NDArray[Any], npt.NDArray[Any], npt.NDArray[Any] | None, tuple[str, ...] | None]


def load_data(
    spec: str | Path,
    *,
    label_column: str = "label",
    group_column: str | None = None,
    bounds: tuple[float, float] | None = None,
    num_classes: int | None = None,
) -> Dataset:
    """Load ``.npz``, ``.csv``, a folder of class sub-folders of images, or ``bundled:NAME``.

    Every set goes through :func:`validate_arrays`; bad input raises a one-line
    :class:`InputError` naming the source.
    """
    source = str(spec)
    if isinstance(spec, str) and spec.startswith("bundled:"):
        if group_column is not None:
            raise InputError(f"{source}: bundled sets have no group column")
        raw = _load_bundled(spec)
        source = raw.source
        arrays: Raw = (raw.x, raw.y, None, raw.class_names)
    else:
        arrays = _load_path(Path(spec), source, label_column, group_column)
    x, y, groups, class_names = arrays
    if class_names is not None and num_classes is not None and len(class_names) != num_classes:
        raise InputError(
            f"{source}: names {len(class_names)} classes ({_preview(class_names)}) but "
            f"num_classes is {num_classes}; labels follow the class names, so they must match"
        )
    n_classes = num_classes if num_classes is not None or class_names is None else len(class_names)
    x32, y64 = validate_arrays(
        x, y, source=source, bounds=bounds, num_classes=n_classes, groups=groups
    )
    g = None if groups is None else np.asarray(groups).astype(np.str_)
    names = _csv_features(spec, label_column, group_column) if x32.ndim == 2 else None
    return Dataset(x32, y64, source, g, class_names, feature_names=names)


def _preview(names: tuple[str, ...] | list[str], limit: int = 5) -> str:
    shown = ", ".join(names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def _load_bundled(spec: str) -> Dataset:
    recorded = re.fullmatch(r"bundled:(\w+)\[(\w+)\]", spec)  # as a result's data.source names it
    if recorded:
        spec = f"bundled:{recorded[1]}:{recorded[2]}"
    parts = spec.split(":")
    if len(parts) not in (2, 3) or parts[1] not in _BUNDLED:
        known = ", ".join(f"bundled:{name}" for name in _BUNDLED)
        raise InputError(f"{spec}: unknown bundled data set (known: {known})")
    split = parts[2] if len(parts) == 3 else "test"
    if split not in _SPLITS:
        raise InputError(f"{spec}: unknown split {split!r} (expected train, test or all)")
    return _BUNDLED[parts[1]](_SPLITS[split])


def _load_path(path: Path, source: str, label_column: str, group_column: str | None) -> Raw:
    if not path.exists():
        raise InputError(f"{source}: no such file or directory")
    if path.is_dir():
        if group_column is not None:
            raise InputError(f"{source}: image folders have no group column")
        return _load_image_folder(path, source)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _load_npz(path, source, group_column)
    if suffix == ".csv":
        return _load_csv(path, source, label_column, group_column)
    raise InputError(
        f"{source}: unsupported data format {suffix or '(no extension)'!r} "
        "(expected .npz, .csv, a folder of class sub-folders, or bundled:NAME)"
    )


# --- .npz ------------------------------------------------------------------------------


def _npz_array(archive: Any, key: str, source: str) -> npt.NDArray[Any]:
    try:
        arr: npt.NDArray[Any] = archive[key]
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError(
                f"{source}: {key!r} is an object array; loading it would unpickle (run code), "
                "so save plain numeric or string arrays"
            ) from exc
        raise InputError(f"{source}: cannot read {key!r} ({one_line(exc)})") from exc
    except (OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        raise InputError(f"{source}: cannot read {key!r} ({one_line(exc)})") from exc
    return arr


def _load_npz(path: Path, source: str, group_key: str | None) -> Raw:
    if not zipfile.is_zipfile(path):
        raise InputError(f"{source}: not a readable .npz archive (not a zip file)")
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise InputError(f"{source}: not a readable .npz archive ({one_line(exc)})") from exc
    with archive:
        found = list(archive.files)
        for key in ("x", "y") if group_key is None else ("x", "y", group_key):
            if key not in found:
                raise InputError(f"{source}: missing key {key!r} (found: {_preview(found)})")
        x, y = _npz_array(archive, "x", source), _npz_array(archive, "y", source)
        g_key = group_key if group_key is not None else "groups"
        groups = _npz_array(archive, g_key, source) if g_key in found else None
        names = _npz_array(archive, "class_names", source) if "class_names" in found else None
    if names is not None and names.ndim != 1:
        raise InputError(f"{source}: class_names must be 1-D, got shape {names.shape}")
    class_names = None if names is None else tuple(str(n) for n in names.tolist())
    return x, y, groups, class_names


# --- .csv ------------------------------------------------------------------------------


def _read_csv(path: Path, source: str) -> tuple[list[str], list[int], list[list[str]]]:
    """Header, the file line of each data row, and the rows (blank lines skipped)."""
    lines: list[int] = []
    rows: list[list[str]] = []
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip() for name in next(reader, [])]
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(header):
                    raise InputError(
                        f"{source}: line {reader.line_num} has {len(row)} cells "
                        f"but the header has {len(header)}"
                    )
                lines.append(reader.line_num)
                rows.append(row)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{source}: not a readable UTF-8 CSV file ({one_line(exc)})") from exc
    if not header:
        raise InputError(f"{source}: is empty (no header row)")
    if not rows:
        raise InputError(f"{source}: has a header but no data rows")
    return header, lines, rows


def _column(header: list[str], name: str, source: str) -> int:
    if header.count(name) > 1:
        raise InputError(f"{source}: column {name!r} appears {header.count(name)} times")
    if name not in header:
        raise InputError(f"{source}: no column {name!r} (columns: {_preview(header)})")
    return header.index(name)


def _not_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return True
    return False


def _parse_features(
    table: npt.NDArray[np.str_], names: list[str], lines: list[int], source: str
) -> npt.NDArray[np.float64]:
    try:
        return table.astype(np.float64)
    except ValueError:
        pass
    for r, row in enumerate(table.tolist()):
        for c, cell in enumerate(row):
            if _not_number(cell):
                shown = "an empty cell" if not cell.strip() else f"{cell!r}"
                raise InputError(
                    f"{source}: line {lines[r]}, column {names[c]!r}: {shown} is not a number"
                ) from None
    raise InputError(f"{source}: feature columns are not numeric")


def _parse_labels(
    cells: list[str], lines: list[int], name: str, source: str
) -> tuple[npt.NDArray[Any], tuple[str, ...] | None]:
    """Numeric labels as given, or names mapped to indices in sorted order."""
    for line, cell in zip(lines, cells, strict=True):
        if not cell.strip():
            raise InputError(f"{source}: line {line}, column {name!r}: the label is empty")
    bad = [_not_number(cell) for cell in cells]
    if not any(bad):
        return np.array(cells).astype(np.float64), None
    if all(bad):
        class_names = tuple(sorted({cell.strip() for cell in cells}))
        index = {c: i for i, c in enumerate(class_names)}
        return np.array([index[cell.strip()] for cell in cells], dtype=np.int64), class_names
    line, cell = next((ln, c) for ln, c, b in zip(lines, cells, bad, strict=True) if b)
    raise InputError(
        f"{source}: line {line}, column {name!r}: label {cell!r} is not a number "
        "while other labels are (use all numbers or all class names)"
    )


def _csv_features(
    spec: str | Path, label_column: str, group_column: str | None
) -> tuple[str, ...] | None:
    """The feature column names of a CSV file (its header without label and group)."""
    if (isinstance(spec, str) and spec.startswith("bundled:")) or Path(
        spec
    ).suffix.lower() != ".csv":
        return None
    with Path(spec).open(newline="", encoding="utf-8-sig") as handle:
        header = [h.strip() for h in next(csv.reader(handle))]
    return tuple(h for h in header if h not in (label_column, group_column))


def _load_csv(path: Path, source: str, label_column: str, group_column: str | None) -> Raw:
    header, lines, rows = _read_csv(path, source)
    label_idx = _column(header, label_column, source)
    group_idx = None if group_column is None else _column(header, group_column, source)
    feature_idx = [i for i in range(len(header)) if i not in (label_idx, group_idx)]
    if not feature_idx:
        raise InputError(f"{source}: has no feature columns besides {label_column!r}")
    table = np.array(rows, dtype=np.str_)
    x = _parse_features(table[:, feature_idx], [header[i] for i in feature_idx], lines, source)
    y, class_names = _parse_labels(table[:, label_idx].tolist(), lines, label_column, source)
    groups = None if group_idx is None else np.char.strip(table[:, group_idx])
    return x, y, groups, class_names


# --- image folders ---------------------------------------------------------------------


def _class_labels(names: list[str]) -> tuple[list[str], list[int], tuple[str, ...] | None]:
    """Folders in label order, their labels, and the class names.

    Folders named by integers are labelled by that integer (so ``10`` follows ``9`` and a
    subset of classes keeps its indices); otherwise labels follow the sorted names.
    """
    if all(name.isdecimal() for name in names):
        ordered = sorted(names, key=int)
        labels = [int(name) for name in ordered]
        dense = labels == list(range(len(labels)))
        return ordered, labels, tuple(ordered) if dense else None
    ordered = sorted(names)
    return ordered, list(range(len(ordered))), tuple(ordered)


def _read_image(path: Path, shown: str, source: str) -> tuple[npt.NDArray[np.float32], bool]:
    """Pixels in [0, 1], ``(h, w)`` for grayscale or ``(h, w, 3)`` for colour."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            mode = img.mode
            if mode in _GRAY_MODES:
                return np.asarray(img.convert("L"), dtype=np.float32) / 255.0, True
            if mode.startswith("I;16"):
                return np.asarray(img, dtype=np.float32) / 65535.0, True
            if mode in ("I", "F"):
                raise InputError(
                    f"{source}: {shown} has unsupported image mode {mode!r} "
                    "(use 8-bit or 16-bit images)"
                )
            rgb = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
            if mode == "P" and (rgb == rgb[:, :, :1]).all():  # e.g. a grayscale GIF
                return rgb[:, :, 0], True
            return rgb, False
    except InputError:
        raise
    except Exception as exc:  # Pillow raises many types on corrupt files
        raise InputError(f"{source}: cannot read image {shown} ({one_line(exc)})") from exc


def _image_files(root: Path, source: str) -> tuple[list[tuple[Path, int]], tuple[str, ...] | None]:
    folders = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if not folders:
        raise InputError(f"{source}: has no class sub-folders (expected one per class)")
    ordered, labels, class_names = _class_labels(folders)
    files = [
        (f, label)
        for name, label in zip(ordered, labels, strict=True)
        for f in sorted((root / name).iterdir())
        if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES and not f.name.startswith(".")
    ]
    if not files:
        kinds = ", ".join(s.lstrip(".") for s in IMAGE_SUFFIXES)
        raise InputError(f"{source}: no images ({kinds}) in its class sub-folders")
    return files, class_names


def _load_image_folder(root: Path, source: str) -> Raw:
    files, class_names = _image_files(root, source)
    images: list[npt.NDArray[np.float32]] = []
    gray: list[bool] = []
    first = ""
    for path, _ in files:
        shown = path.relative_to(root).as_posix()
        pixels, is_gray = _read_image(path, shown, source)
        if images and pixels.shape[:2] != images[0].shape[:2]:
            (h, w), (h0, w0) = pixels.shape[:2], images[0].shape[:2]
            raise InputError(
                f"{source}: {shown} is {w}x{h} pixels but {first} is {w0}x{h0}; "
                "all images must be the same size"
            )
        first = first or shown
        images.append(pixels)
        gray.append(is_gray)
    if all(gray):
        x = np.stack(images)[:, None, :, :]
    else:
        rgb = [img if img.ndim == 3 else np.repeat(img[:, :, None], 3, axis=2) for img in images]
        x = np.stack(rgb).transpose(0, 3, 1, 2)
    y = np.array([label for _, label in files], dtype=np.int64)
    return x, y, None, class_names
