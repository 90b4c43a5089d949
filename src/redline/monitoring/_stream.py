"""Profiles of files too big to load: CSV and Parquet are read in chunks of rows through
Arrow and each chunk's profile merged into the running one, so memory is set by the
chunk, not the file. Globs (``logs/day=*.parquet``) are expanded in sorted order."""

from __future__ import annotations

import glob
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError
from redline.monitoring._profile import Profile

__all__ = ["CHUNK_ROWS", "Chunk", "expand", "profile_files", "read_chunks"]

CHUNK_ROWS = 100_000
Chunk = Any
"""An Arrow table of at most ``chunk_rows`` rows."""
Predict = Callable[[Chunk], tuple[npt.NDArray[np.float64], npt.NDArray[np.float64] | None]]
"""A chunk -> (class probabilities, penultimate features or None)."""


def expand(patterns: Sequence[str]) -> list[Path]:
    """Every file named or matched, in sorted order; one line when nothing matches."""
    out: list[Path] = []
    for pattern in patterns:
        magic = glob.has_magic(pattern)
        found = sorted(glob.glob(pattern)) if magic else [pattern]  # noqa: PTH207 - any root
        if not found:
            raise InputError(f"{pattern}: no file matches")
        for name in found:
            path = Path(name)
            if not path.is_file():
                raise InputError(f"{path}: no such file")
            out.append(path)
    return out


def read_chunks(path: Path, chunk_rows: int = CHUNK_ROWS) -> Iterator[Chunk]:
    """Arrow tables of at most ``chunk_rows`` rows from a CSV or Parquet file."""
    import pyarrow as pa

    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            # no pre-buffering (Arrow's default reads whole row groups ahead: 2.6 GB
            # peak on a 1.4 GB file, measured) and no reader threads: memory per chunk
            reader = pq.ParquetFile(path, pre_buffer=False, buffer_size=1 << 23)
            for batch in reader.iter_batches(batch_size=chunk_rows, use_threads=False):
                yield pa.Table.from_batches([batch])
        elif suffix in (".csv", ".tsv"):
            yield from _csv_chunks(path, chunk_rows, "\t" if suffix == ".tsv" else ",")
        else:
            raise InputError(f"{path}: profiles stream .csv, .tsv and .parquet files ({suffix!r})")
    except (pa.ArrowInvalid, pa.ArrowTypeError, OSError) as exc:
        raise InputError(f"{path}: not a readable table ({str(exc).splitlines()[0]})") from None


def _csv_chunks(path: Path, chunk_rows: int, delimiter: str) -> Iterator[Chunk]:
    import pyarrow as pa
    from pyarrow import csv

    reader = csv.open_csv(
        path,
        read_options=csv.ReadOptions(block_size=1 << 22),
        parse_options=csv.ParseOptions(delimiter=delimiter),
        convert_options=csv.ConvertOptions(strings_can_be_null=True),
    )
    pending: list[Any] = []
    rows = 0
    for batch in reader:
        pending.append(batch)
        rows += batch.num_rows
        if rows >= chunk_rows:
            yield pa.Table.from_batches(pending)
            pending, rows = [], 0
    if pending:
        yield pa.Table.from_batches(pending)


def _split(chunk: Chunk, drop: Sequence[str | None]) -> Chunk:
    for name in drop:
        if name is not None:
            if name not in chunk.column_names:
                raise InputError(
                    f"column {name!r} is not in the data ({', '.join(chunk.column_names[:8])}...)"
                )
            chunk = chunk.drop_columns([name])
    return chunk


def profile_files(
    patterns: Sequence[str],
    *,
    group_column: str | None = None,
    label_column: str | None = None,
    categorical: Sequence[str] = (),
    chunk_rows: int = CHUNK_ROWS,
    predict: Predict | None = None,
    seed: int = 0,
) -> Profile:
    """The profile of every row of every file, chunk by chunk; the group column gives
    the slices, the label column is left out of the features (it is what the model
    predicts) and gives the realised accuracy when ``predict`` is given."""
    if chunk_rows < 1:
        raise InputError(f"chunk rows must be >= 1, got {chunk_rows}")
    files = expand(patterns)
    total: Profile | None = None
    names: list[str] | None = None
    for k, chunk in enumerate(c for path in files for c in read_chunks(path, chunk_rows)):
        groups = _column(chunk, group_column)
        labels = _column(chunk, label_column)
        table = _split(chunk, [group_column, label_column])
        if names is None:
            names = list(table.column_names)
        elif list(table.column_names) != names:
            raise InputError(f"chunk {k}: its columns differ from the first file's")
        probs, features = predict(table) if predict is not None else (None, None)
        part = Profile.from_arrays(table, categorical=categorical, groups=groups, probs=probs,
                                   features=features, labels=labels, seed=seed + k,
                                   source=", ".join(p.name for p in files)[:200])  # fmt: skip
        total = part if total is None else total.merge(part)
    if total is None:
        raise InputError("the data has no rows")
    return total


def _column(chunk: Chunk, name: str | None) -> npt.NDArray[Any] | None:
    if name is None:
        return None
    if name not in chunk.column_names:
        raise InputError(f"column {name!r} is not in the data")
    return np.asarray(chunk.column(name).to_numpy(zero_copy_only=False))
