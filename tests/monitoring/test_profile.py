"""Profiles: merging shards equals profiling their union (exactly where exact, within the
sketch's rank error where sketched), files round-trip and refuse corruption, CSV and
Parquet stream in chunks to the same profile as in memory."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from redline.errors import InputError
from redline.monitoring import Profile, profile_files
from redline.monitoring._columns import EXACT_LIMIT, CategoricalColumn, NumericColumn


def _table(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    return {
        "a": rng.normal(size=n),
        "b": rng.exponential(size=n),
        "c": rng.choice(["x", "y", "z"], size=n, p=[0.5, 0.3, 0.2]),
    }


def test_the_merge_of_100_shards_is_the_profile_of_their_union() -> None:
    rng = np.random.default_rng(0)
    n, shards = 50_000, 100  # past EXACT_LIMIT: the union is a KLL sketch
    data = _table(rng, n)
    data["a"][::97] = np.nan
    whole = Profile.from_arrays(data)
    step = n // shards
    merged = Profile.from_arrays({k: v[:step] for k, v in data.items()}, seed=0)
    for i in range(1, shards):
        part = {k: v[i * step : (i + 1) * step] for k, v in data.items()}
        merged = merged.merge(Profile.from_arrays(part, seed=i))
    assert merged.n_rows == whole.n_rows == n
    for name in ("a", "b"):
        m, w = merged.column(name), whole.column(name)
        assert isinstance(m, NumericColumn) and isinstance(w, NumericColumn)
        assert (m.count, m.missing) == (w.count, w.missing) and not m.exact
        assert m.moments.mean == pytest.approx(w.moments.mean, rel=1e-9, abs=1e-12)
        assert m.moments.std == pytest.approx(w.moments.std, rel=1e-9)
        values = np.sort(data[name][np.isfinite(data[name])])
        levels = np.linspace(0.01, 0.99, 99)
        ranks = np.searchsorted(values, m.quantiles(levels), side="right") / values.size
        assert np.abs(ranks - levels).max() <= m.rank_error  # the documented error, 99%
    assert merged.column("c") == whole.column("c")  # category counts are exact
    assert merged.sample.n == whole.sample.n == 2000


def test_small_windows_stay_exact_and_merge_exactly() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=3000), rng.normal(size=4000)
    merged = NumericColumn.of("v", a).merge(NumericColumn.of("v", b))
    assert merged.exact and merged.count == 7000
    assert np.array_equal(np.sort(merged.values), np.sort(np.r_[a, b]))  # type: ignore[arg-type]
    big = merged.merge(NumericColumn.of("v", rng.normal(size=EXACT_LIMIT)))
    assert not big.exact and big.count == 7000 + EXACT_LIMIT


def test_a_profile_file_round_trips_and_refuses_tampering(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    probs = rng.dirichlet([1, 1, 1], size=500)
    p = Profile.from_arrays(
        _table(rng, 500),
        groups=rng.choice(["g1", "g2"], 500),
        probs=probs,
        features=rng.normal(size=(500, 4)),
        labels=rng.integers(0, 3, 500),
    )
    path = tmp_path / "w.profile"
    p.save(path)
    back = Profile.load(path)
    assert back == p and set(back.slices) == {"g1", "g2"}
    assert back.predictions is not None and back.predictions.labelled == 500
    text = path.read_text()
    head, body = text.split("\n", 1)
    (tmp_path / "flip.profile").write_text(
        head + "\n" + body.replace('"n_rows":500', '"n_rows":501')
    )
    newer = json.loads(head) | {"version": 99}
    (tmp_path / "newer.profile").write_text(json.dumps(newer) + "\n" + body)
    (tmp_path / "junk.profile").write_text("not a profile")
    cases = {
        "flip": "corrupt",
        "newer": "newer redline",
        "junk": "not a redline profile",
        "missing": "no such profile",
    }
    for name, message in cases.items():
        with pytest.raises(InputError, match=message):
            Profile.load(tmp_path / f"{name}.profile")


def test_csv_and_parquet_stream_to_the_in_memory_profile(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    data = _table(rng, 3000)
    groups = rng.choice(["north", "south"], 3000)
    with (tmp_path / "d.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["a", "b", "c", "region"])
        out.writerows(zip(*(data[k] for k in "abc"), groups, strict=True))
    table = pa.table({**data, "region": groups})
    pq.write_table(table.slice(0, 1500), tmp_path / "day=1.parquet")
    pq.write_table(table.slice(1500), tmp_path / "day=2.parquet")
    memory = Profile.from_arrays(data, groups=groups)
    for found in (
        profile_files([str(tmp_path / "d.csv")], group_column="region", chunk_rows=700),
        profile_files([str(tmp_path / "day=*.parquet")], group_column="region", chunk_rows=400),
    ):
        assert found.n_rows == 3000 and found.names == ("a", "b", "c")
        for name in ("a", "b"):
            col, ref = found.column(name), memory.column(name)
            assert isinstance(col, NumericColumn) and isinstance(ref, NumericColumn)
            assert col.moments.mean == pytest.approx(ref.moments.mean) and col.exact
        assert found.column("c") == memory.column("c")
        assert {k: v.n_rows for k, v in found.slices.items()} == {
            k: v.n_rows for k, v in memory.slices.items()
        }


def test_bad_tables_get_one_line_errors(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    cases = {
        "same number of rows": lambda: Profile.from_arrays({"a": np.zeros(3), "b": np.zeros(4)}),
        "at most 50 slices": lambda: Profile.from_arrays({"a": np.zeros(60)}, groups=np.arange(60)),
        "each row must sum to 1": lambda: Profile.from_arrays(
            {"a": np.zeros(2)}, probs=np.ones((2, 2))
        ),
        "not in the data": lambda: Profile.from_arrays({"a": np.zeros(2)}, categorical=["z"]),
        "no file matches": lambda: profile_files([str(tmp_path / "none*.csv")]),
    }
    for message, make in cases.items():
        with pytest.raises(InputError, match=message):
            make()
    a = Profile.from_arrays({"a": rng.normal(size=5)})
    b = Profile.from_arrays({"a": np.array(["x"] * 5)})
    assert isinstance(b.column("a"), CategoricalColumn)
    with pytest.raises(InputError, match="different columns or column kinds"):
        a.merge(b)
