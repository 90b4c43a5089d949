"""Content-addressed artifacts: round trip, dedup, tamper detection, crash leftovers."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from redline.errors import InputError, IntegrityError
from redline.registry import ArtifactStore


def test_put_and_read_back_by_hash(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    data = os.urandom(3 * (1 << 20) + 17)  # several chunks
    art = store.put_bytes(data)
    assert art.sha256 == hashlib.sha256(data).hexdigest() and art.size == len(data)
    assert store.read_bytes(art.sha256) == data
    assert store.verify(art.sha256) == store.path(art.sha256)
    src = tmp_path / "w.pt"
    src.write_bytes(data)
    assert store.put_file(src) == art  # same bytes, same blob, stored once
    assert store.stored() == [art.sha256]
    assert not list((tmp_path / "artifacts" / "tmp").iterdir())


def test_tampered_or_missing_blob_is_named(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    art = store.put_bytes(b"weights" * 1000)
    path = store.path(art.sha256)
    path.chmod(0o644)
    raw = bytearray(path.read_bytes())
    raw[100] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match=art.sha256):
        store.verify(art.sha256)
    with pytest.raises(IntegrityError, match="corrupt"):
        store.read_bytes(art.sha256)
    assert store.check({art.sha256}).corrupt == (art.sha256,)
    path.unlink()
    with pytest.raises(IntegrityError, match="missing"):
        store.verify(art.sha256)


def test_bad_names_and_files_are_input_errors(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(InputError, match="SHA-256"):
        store.path("../../etc/passwd")
    with pytest.raises(InputError, match="no such file"):
        store.put_file(tmp_path / "nope.pt")


def test_orphans_are_reported_and_cleaned(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    keep, orphan = store.put_bytes(b"kept"), store.put_bytes(b"orphan")
    found = store.check({keep.sha256})
    assert found.orphans == (orphan.sha256,) and not found.ok
    assert store.clean({keep.sha256}).orphans == ()  # young: a register may be about to use it
    assert store.clean({keep.sha256}, min_age=0.0).orphans == (orphan.sha256,)
    assert store.stored() == [keep.sha256] and store.check({keep.sha256}).ok


def test_storing_existing_bytes_again_repairs_a_corrupt_blob(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    art = store.put_bytes(b"weights")
    store.path(art.sha256).chmod(0o644)
    store.path(art.sha256).write_bytes(b"tampered")
    assert store.put_bytes(b"weights") == art
    assert store.read_bytes(art.sha256) == b"weights"


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from redline.registry import ArtifactStore

    class Slow:
        def __init__(self):
            self.sent = 0
        def read(self, n):
            if self.sent == 4:
                Path(sys.argv[2]).write_text("writing")
                time.sleep(60)
            self.sent += 1
            return b"x" * (1 << 20)

    ArtifactStore(sys.argv[1]).put_stream(Slow())
    """
)


def test_kill_during_a_large_write_leaves_no_blob_only_a_partial(tmp_path: Path) -> None:
    root, marker = tmp_path / "store", tmp_path / "marker"
    proc = subprocess.Popen([sys.executable, "-c", _WRITER, str(root), str(marker)])
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    store = ArtifactStore(root)
    assert store.stored() == []  # nothing under a final name
    found = store.check(set())
    assert len(found.partial) == 1 and found.partial[0].stat().st_size >= 4 << 20
    assert store.clean(set()).partial == ()  # too young: may belong to a live writer
    assert store.clean(set(), min_age=0.0).partial == found.partial
    assert store.check(set()).ok
