"""Reliability under real processes, on SQLite and PostgreSQL: 8 processes promoting and
rolling back one model, and kill -9 in the middle of registering a large artifact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from tests.registry._helpers import versions as make_versions

from redline.cli.main import run
from redline.evaluation import ScanResult
from redline.registry import Store, get_version, register
from redline.registry._tables import alias_history, aliases, versions

_CHURN = """
import json, random, sys
from redline.errors import RefusedError
from redline.registry import open_store, promote, rollback
url, root, seed, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
store, rng = open_store(url, artifacts=root), random.Random(seed)
for _ in range(n):
    try:
        if rng.random() < 0.5:
            moved = promote(store, f"fraud@{rng.randint(1, 4)}", actor=f"w{seed}")
        else:
            moved = rollback(store, "fraud", actor=f"w{seed}")
    except RefusedError:
        print(json.dumps(None))
        continue
    before = None if moved.previous is None else moved.previous.number
    print(json.dumps([before, moved.version.number]))
store.engine.dispose()
"""


@pytest.mark.slow
def test_eight_processes_promoting_and_rolling_back(
    store: Store, store_url: str, tmp_path: Path, digits_scan: ScanResult
) -> None:
    small = digits_scan.model_copy(update={"examples": []})
    make_versions(store, tmp_path, small, "fraud", [True, True, True, True])
    root = str(tmp_path / "artifacts")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CHURN, store_url, root, str(seed), "200"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for seed in range(8)
    ]
    outputs = [p.communicate(timeout=600)[0] for p in procs]
    assert [p.returncode for p in procs] == [0] * 8
    moves = [json.loads(line) for out in outputs for line in out.splitlines()]
    done = [tuple(m) for m in moves if m is not None]
    assert len(moves) == 1600 and len(done) > 800  # every attempt answered

    with store.engine.connect() as conn:
        rows = conn.execute(sa.select(alias_history).order_by(alias_history.c.id)).all()
        serving = conn.execute(sa.select(aliases).where(aliases.c.name == "production")).all()
        number = dict(conn.execute(sa.select(versions.c.id, versions.c.number)).all())
    history = [(number.get(r.previous_version_id), number[r.version_id]) for r in rows]
    # No lost update: each move starts where the previous one ended, one line of history.
    assert all(history[i][0] == history[i - 1][1] for i in range(1, len(history)))
    assert history[0][0] is None
    # Exactly one production version, the last one history says.
    assert len(serving) == 1 and number[serving[0].version_id] == history[-1][1]
    # Every move a process saw is in the history and the audit log, and nothing else is.
    assert Counter(history) == Counter(done)
    events = Counter(e.action for e in store.events())
    assert events["alias.promote"] + events["alias.rollback"] == len(done)
    assert store.verify_audit().ok


_REGISTER = """
import os, sys, time
from pathlib import Path
from redline.registry import _artifacts, _store, open_store, register
url, root, src, marker, point = sys.argv[1:6]

def hold():
    Path(marker).touch()
    time.sleep(120)

if point == "streaming":
    class Slow:
        def __init__(self, path):
            self.handle, self.seen = open(path, "rb"), 0
        def read(self, n):
            if self.seen >= 4 << 20:
                hold()
            chunk = self.handle.read(n)
            self.seen += len(chunk)
            return chunk
    def put_file(self, path):
        return self.put_stream(Slow(path))
    _artifacts.ArtifactStore.put_file = put_file
elif point == "before-row":
    begin = _store.Store.transaction
    def transaction(self):
        hold()
        return begin(self)
    _store.Store.transaction = transaction
else:
    def audit(self, conn, **kwargs):
        hold()
    _store.Store.audit = audit
store = open_store(url, artifacts=root)
register(store, "big", src, actor="x")
"""


def _kill_at(marker: Path, command: list[str]) -> None:
    proc = subprocess.Popen(command)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()


@pytest.mark.slow
@pytest.mark.parametrize("point", ["streaming", "before-row", "in-transaction"])
def test_kill_while_registering_leaves_no_version_and_check_cleans(
    store: Store, store_url: str, tmp_path: Path, point: str, capsys: pytest.CaptureFixture[str]
) -> None:
    big, marker, root = tmp_path / "big.pt", tmp_path / "marker", tmp_path / "artifacts"
    big.write_bytes(os.urandom(12 << 20))
    command = [sys.executable, "-c", _REGISTER, store_url, str(root), str(big), str(marker), point]
    _kill_at(marker, command)
    with store.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(versions)).scalar_one() == 0
    assert store.events() == [] and store.verify_audit().ok
    check = ["registry", "check", "--store", store_url]
    os.environ["REDLINE_ARTIFACTS"] = str(root)
    try:
        assert run(check) == 1
        err = capsys.readouterr().err
        assert ("partial write" if point == "streaming" else "orphan") in err
        assert run([*check, "--clean", "--min-age", "0"]) == 0
        assert "(removed)" in capsys.readouterr().err
        assert run(check) == 0
    finally:
        del os.environ["REDLINE_ARTIFACTS"]
    assert store.artifacts.stored() == []
    again = register(store, "big", big, actor="x")
    assert again.number == 1 and get_version(store, "big@1").artifact_size == 12 << 20
