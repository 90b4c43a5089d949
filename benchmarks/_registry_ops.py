"""The registry benchmark's workloads: the setup each one needs on a fresh store, and
the worker process that times the operations.

A worker is ``python -m benchmarks._registry_ops SPEC_JSON`` (this module imports
neither torch nor the benchmark plumbing, so it starts in a fraction of a second). It
opens the store, prepares its inputs, prints ``ready``, waits for ``go`` on stdin, runs
its operations, and prints one JSON line: its start and end on the system-wide monotonic
clock (comparable between processes on Linux), the duration of every call, and any
error. Setup is done by the parent before the workers start, so a worker only times
the operation itself.

Workloads (model ``m``; every operation is one transaction and one audit event):

- ``register``: a distinct ~1 KiB file per call (written before ``go``) registered as
  the next version of ``m``: content-addressed copy with fsyncs, then the transaction.
- ``promote``: ``promote(m@1)`` and ``promote(m@2)`` alternately (both carry a passing
  scan, so the gate lets them through).
- ``rollback``: ``ROLLBACK_VERSIONS`` versions that all passed and all served
  production; each iteration is ``rollback(m)`` (timed as the rollback latency) and
  then ``promote`` of the version it rolled back from (clears its withdrawal). At most
  one withdrawn version per worker at a time, so every rollback finds a known-good
  target, also with 8 workers rolling back the same model.
- ``incident``: ``add_note`` on an open incident of ``m`` (one per worker, opened in
  setup; each note also reads the incident's timeline back, as ``add_note`` returns it).
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from redline.evaluation import ScanResult
    from redline.registry import Store

__all__ = [
    "MODEL",
    "ROLLBACK_VERSIONS",
    "WORKLOADS",
    "Report",
    "Spec",
    "setup",
    "worker",
]

MODEL = "m"
WORKLOADS = ("register", "promote", "rollback", "incident")
ROLLBACK_VERSIONS = 10
"""Versions that served production in the rollback workload (more than 8 workers + 1)."""
ARTIFACT_BYTES = 1024
ACTOR = "bench"


@dataclass(frozen=True)
class Spec:
    """What one worker does: ``n`` iterations of ``workload`` on the store at ``url``."""

    workload: str
    url: str
    artifacts: str
    worker: int
    n: int
    scratch: str
    incident: int | None = None


@dataclass
class Report:
    """What one worker did: start/end (``time.monotonic``), per-call seconds by
    operation, calls that succeeded, and errors (``type: message``)."""

    start: float = 0.0
    end: float = 0.0
    calls: dict[str, list[float]] = field(default_factory=dict)
    ops: int = 0
    errors: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- setup


def _artifact(path: Path, tag: str) -> Path:
    """~1 KiB of bytes unique to ``tag``."""
    head = f"weights {tag}\n".encode()
    path.write_bytes((head * (ARTIFACT_BYTES // len(head) + 1))[:ARTIFACT_BYTES])
    return path


def _versions(store: Store, scratch: Path, scan: ScanResult, n: int) -> list[str]:
    """Register ``n`` versions of the model, each with a passing scan; their refs."""
    from redline.registry import record_scan, register

    refs = []
    for i in range(n):
        info = register(
            store, MODEL, _artifact(scratch / f"setup-{i}.bin", f"setup {i}"), actor=ACTOR
        )
        record_scan(store, info.ref, scan, actor=ACTOR)
        refs.append(info.ref)
    return refs


def setup(store: Store, workload: str, scratch: Path, scan: ScanResult, workers: int) -> list[int]:
    """Prepare a fresh store for ``workload``; the incident ids (one per worker) for
    ``incident``, else empty. ``scan`` must carry a passing policy verdict and no
    weights hash (it is filed under every version)."""
    from redline.registry import open_incident, promote

    if workload == "register":
        _versions(store, scratch, scan, 1)  # the model exists; workers add versions
    elif workload == "promote":
        _versions(store, scratch, scan, 2)
    elif workload == "rollback":
        for ref in _versions(store, scratch, scan, ROLLBACK_VERSIONS):
            promote(store, ref, actor=ACTOR)
    elif workload == "incident":
        (ref,) = _versions(store, scratch, scan, 1)
        promote(store, ref, actor=ACTOR)
        return [
            open_incident(store, MODEL, severity="low", title=f"bench {w}", actor=ACTOR).id
            for w in range(workers)
        ]
    else:
        raise ValueError(f"unknown workload {workload!r}")
    return []


# --------------------------------------------------------------------------- worker


def _timed(report: Report, op: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    t0 = time.perf_counter()
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # counted, shown in the table; the run goes on
        report.errors.append(f"{op}: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
        return None
    report.calls.setdefault(op, []).append(time.perf_counter() - t0)
    report.ops += 1
    return out


def _run(spec: Spec, store: Store, report: Report) -> None:
    from redline.registry import add_note, promote, register, rollback

    if spec.workload == "register":
        files = [
            _artifact(Path(spec.scratch) / f"w{spec.worker}-{i}.bin", f"w{spec.worker} {i}")
            for i in range(spec.n)
        ]
        _go(report)
        for path in files:
            _timed(report, "register", register, store, MODEL, path, actor=ACTOR)
    elif spec.workload == "promote":
        _go(report)
        for i in range(spec.n):
            ref = f"{MODEL}@{1 + (i + spec.worker) % 2}"
            _timed(report, "promote", promote, store, ref, actor=ACTOR)
    elif spec.workload == "rollback":
        _go(report)
        for _ in range(spec.n):
            move = _timed(report, "rollback", rollback, store, MODEL, actor=ACTOR)
            if move is not None and move.previous is not None:
                _timed(report, "promote", promote, store, move.previous.ref, actor=ACTOR)
    elif spec.workload == "incident":
        if spec.incident is None:
            raise ValueError("the incident workload needs an incident id")
        _go(report)
        for i in range(spec.n):
            note = f"worker {spec.worker} note {i}"
            _timed(report, "note", add_note, store, spec.incident, note, actor=ACTOR)
    else:
        raise ValueError(f"unknown workload {spec.workload!r}")
    report.end = time.monotonic()


def _go(report: Report) -> None:
    """Tell the parent we are ready; block until it says go; mark the start."""
    print("ready", flush=True)
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("the parent did not say go")
    report.start = time.monotonic()


def worker(spec: Spec) -> Report:
    """Open the store, run the spec, close the store; the report."""
    from redline.registry import open_store

    store = open_store(spec.url, artifacts=spec.artifacts)
    report = Report()
    try:
        _run(spec, store, report)
    finally:
        store.engine.dispose()
    return report


def main() -> None:
    """``python -m benchmarks._registry_ops SPEC_JSON``: one worker; report JSON on the
    last stdout line."""
    if len(sys.argv) != 2:
        raise SystemExit("usage: python -m benchmarks._registry_ops SPEC_JSON")
    spec = Spec(**json.loads(sys.argv[1]))
    Path(spec.scratch).mkdir(parents=True, exist_ok=True)
    print(json.dumps(asdict(worker(spec))), flush=True)


if __name__ == "__main__":
    main()
