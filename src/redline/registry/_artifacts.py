"""Content-addressed artifact storage: every blob is named by its SHA-256, written so that
a crash never leaves a half-written blob under its final name, and verified on every read.

Layout under ``root``: ``sha256/ab/<64 hex>`` for blobs, ``tmp/`` for writes in flight.
A write streams into ``tmp/`` while hashing, fsyncs the file, renames it into place and
fsyncs the directory; a blob that already exists is not rewritten (same bytes).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from redline.errors import InputError, IntegrityError

__all__ = ["Artifact", "ArtifactStore", "StoreCheck"]

CHUNK = 1 << 20
_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Artifact:
    """A stored blob: its SHA-256 (hex) and size in bytes."""

    sha256: str
    size: int


@dataclass(frozen=True)
class StoreCheck:
    """What :meth:`ArtifactStore.check` found: writes a crash left behind, blobs nothing
    refers to, and blobs whose bytes no longer match their name."""

    partial: tuple[Path, ...]
    orphans: tuple[str, ...]
    corrupt: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when nothing needs attention."""
        return not (self.partial or self.orphans or self.corrupt)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hash_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


class ArtifactStore:
    """Blobs by SHA-256 under ``root`` (created on first write)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path(self, sha256: str) -> Path:
        """Where the blob ``sha256`` lives (whether or not it exists)."""
        if not _HEX.fullmatch(sha256):
            raise InputError(f"not a SHA-256 hex digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        """True if the blob is stored (its bytes are not checked here)."""
        return self.path(sha256).is_file()

    @contextlib.contextmanager
    def _staging(self) -> Iterator[tuple[BinaryIO, Path]]:
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="put-", suffix=".part")
        tmp = Path(name)
        try:
            with os.fdopen(fd, "wb") as handle:
                yield handle, tmp
        finally:
            tmp.unlink(missing_ok=True)

    def _publish(self, tmp: Path, sha256: str) -> None:
        final = self.path(sha256)
        if final.is_file() and _hash_file(final)[0] == sha256:
            os.utime(final)  # fresh mtime: `clean` spares blobs a writer is about to refer to
            return  # same name, same bytes: nothing to write
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp.chmod(0o444)
        tmp.replace(final)
        _fsync_dir(final.parent)

    def put_stream(self, source: BinaryIO) -> Artifact:
        """Store everything ``source`` yields; returns the blob's name and size."""
        digest, size = hashlib.sha256(), 0
        with self._staging() as (handle, tmp):
            while chunk := source.read(CHUNK):
                digest.update(chunk)
                handle.write(chunk)
                size += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
            handle.close()
            self._publish(tmp, digest.hexdigest())
        return Artifact(digest.hexdigest(), size)

    def put_file(self, src: str | os.PathLike[str]) -> Artifact:
        """Store a copy of the file ``src``."""
        path = Path(src)
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        with path.open("rb") as handle:
            return self.put_stream(handle)

    def put_bytes(self, data: bytes) -> Artifact:
        """Store ``data``."""
        return self.put_stream(io.BytesIO(data))

    def verify(self, sha256: str) -> Path:
        """The blob's path once its bytes are checked against its name; a missing or
        altered blob raises :class:`IntegrityError` naming the file."""
        path = self.path(sha256)
        if not path.is_file():
            raise IntegrityError(f"artifact {sha256} is missing ({path})")
        found, _ = _hash_file(path)
        if found != sha256:
            raise IntegrityError(f"artifact {path} is corrupt: its bytes hash to {found}")
        return path

    def read_bytes(self, sha256: str) -> bytes:
        """The blob's bytes, verified (read once, hashed, then returned)."""
        data = self.path(sha256).read_bytes() if self.exists(sha256) else None
        if data is None:
            raise IntegrityError(f"artifact {sha256} is missing ({self.path(sha256)})")
        if hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(f"artifact {self.path(sha256)} is corrupt")
        return data

    def stored(self) -> list[str]:
        """Names of every stored blob, sorted."""
        base = self.root / "sha256"
        if not base.is_dir():
            return []
        return sorted(p.name for p in base.glob("??/*") if _HEX.fullmatch(p.name))

    def check(self, referenced: set[str], *, deep: bool = True) -> StoreCheck:
        """Partial writes, blobs not in ``referenced`` and (``deep``) corrupt blobs."""
        tmp_dir = self.root / "tmp"
        partial = tuple(sorted(tmp_dir.glob("*.part"))) if tmp_dir.is_dir() else ()
        blobs = self.stored()
        orphans = tuple(h for h in blobs if h not in referenced)
        corrupt = tuple(h for h in blobs if deep and _hash_file(self.path(h))[0] != h)
        return StoreCheck(partial, orphans, corrupt)

    def clean(self, referenced: set[str], *, min_age: float = 60.0) -> StoreCheck:
        """Remove partial writes and orphan blobs older than ``min_age`` seconds (younger
        ones may belong to a register still running: it writes the blob before the row);
        returns what was removed. Corrupt blobs are never removed here: they are evidence."""
        found = self.check(referenced, deep=False)
        now = time.time()
        stale = tuple(p for p in found.partial if now - p.stat().st_mtime >= min_age)
        old = tuple(h for h in found.orphans if now - self.path(h).stat().st_mtime >= min_age)
        found = StoreCheck(stale, old, ())
        for tmp in stale:
            tmp.unlink(missing_ok=True)
        for sha in found.orphans:
            self.path(sha).unlink(missing_ok=True)
        return found
