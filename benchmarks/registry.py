"""Registry benchmark: operations per second (register a small artifact, promote,
rollback, add an incident note) on SQLite and PostgreSQL, from 1 process and from 8
processes working on the same model at once; per-call latency p50 / p99.

How it is measured:

- Durable settings on both sides: SQLite as redline opens it (WAL, ``synchronous=FULL``,
  ``BEGIN IMMEDIATE``), PostgreSQL with its defaults (``fsync``, ``synchronous_commit``
  and ``full_page_writes`` on): every commit waits for its log flush. Both on the same
  filesystem. PostgreSQL is a throwaway local cluster (``benchmarks/_postgres.py``)
  unless ``--postgres URL`` / ``$REDLINE_BENCH_POSTGRES`` names a server (a role that
  may CREATE DATABASE); if none can be had, SQLite only, and the table says why.
- Every run is a fresh database and artifact directory, set up by this process (the
  workload's versions, passing scans, incidents), then ``P`` worker processes
  (``benchmarks/_registry_ops.py``) open the store, prepare their inputs, wait at a
  barrier and each do ``--ops`` calls. ops/s = successful calls / (last worker's end -
  first worker's start). Workloads and what a call is: see ``_registry_ops``.
- After each run: the audit chain verifies (``Store.verify_audit``), the log grew by
  exactly one event per successful call, and no call failed (register: also one new
  version per call). A row is "ok" only if every run of it was.
- Rounds: every (operation, processes) pair runs SQLite and PostgreSQL back to back,
  the order alternating between rounds; ``--repeats`` rounds after a warm-up round.
  ops/s is the median over rounds (range after it); p50 / p99 pool the calls of every
  round; ratios are medians of per-round ratios.

Then, when MLflow is installed (``--no-mlflow`` skips it), a side-by-side with MLflow's
model registry on SQLite from one process: ``benchmarks/_registry_mlflow.py``.

Run: ``python -m benchmarks.registry [--quick] [--postgres URL] [--only mlflow]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from benchmarks import _registry_mlflow
from benchmarks._common import ROOT, cpu_name, redline_revision, save_results
from benchmarks._registry_ops import MODEL, WORKLOADS, Report, Spec, setup

if TYPE_CHECKING:
    from redline.evaluation import ScanResult

__all__ = ["main"]

SERVER_ENV = "REDLINE_BENCH_POSTGRES"
LABELS = {
    "register": "register (1 KiB artifact)",
    "promote": "promote",
    "rollback": "rollback (+ re-promote)",
    "incident": "incident note",
}
TIMED = {"register": "register", "promote": "promote", "rollback": "rollback", "incident": "note"}
"""The call whose latency a row shows (rollback rows: the rollbacks only)."""


# --------------------------------------------------------------------------- backends


@dataclass
class Backend:
    """A database kind: ``fresh(tag)`` yields the URL of a new, empty database."""

    name: str
    fresh: Callable[[str], Any]
    info: dict[str, str] = field(default_factory=dict)


def _sqlite(workdir: Path) -> Backend:
    @contextmanager
    def fresh(tag: str) -> Iterator[str]:
        folder = workdir / f"sqlite-{tag}"
        try:
            yield f"sqlite:///{folder / 'registry.db'}"
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    return Backend("SQLite", fresh, {"version": sqlite3.sqlite_version})


def _postgres(args: argparse.Namespace, workdir: Path) -> tuple[Backend | None, Any, str]:
    """(backend, cluster to stop or None, why there is no backend)."""
    from benchmarks._postgres import Cluster, create_database, drop_database, server_settings

    named = args.postgres or os.environ.get(SERVER_ENV)
    cluster = None
    try:
        import psycopg  # noqa: F401

        if named:
            admin = named
        else:
            workdir.chmod(0o755)  # the postgres user must reach its data dir
            cluster = Cluster(durable=True, base=workdir).start()
            admin = cluster.url
        info = server_settings(admin)
    except Exception as exc:
        if cluster is not None:
            cluster.stop()
        where = f"--postgres / ${SERVER_ENV}" if named else "a throwaway cluster"
        text = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        return None, None, f"could not use {where} ({type(exc).__name__}: {text})"

    @contextmanager
    def fresh(tag: str) -> Iterator[str]:
        name = f"redline_bench_{tag}"
        url = create_database(admin, name)
        try:
            yield url
        finally:
            drop_database(admin, name)

    info["server"] = "throwaway local cluster" if cluster else "--postgres"
    return Backend("PostgreSQL", fresh, info), cluster, ""


# --------------------------------------------------------------------------- one run


@dataclass
class Run:
    """One run of one workload on one backend with ``procs`` workers."""

    workload: str
    backend: str
    procs: int
    ops: int
    wall: float
    calls: dict[str, list[float]]
    errors: list[str]
    problems: list[str]

    @property
    def rate(self) -> float:
        """Successful calls per second of wall time."""
        return self.ops / self.wall if self.wall > 0 else 0.0


def judged_scan() -> ScanResult:
    """A real (small) scan of an untrained MLP on breast_cancer, carrying a passing
    policy verdict and no weights hash, so it can be filed under any version."""
    import torch

    from redline import TorchTarget
    from redline.datasets import load_breast_cancer
    from redline.evaluation import scan
    from redline.results import PolicyFinding, PolicyVerdict
    from redline.zoo import mlp

    torch.set_num_threads(1)
    torch.manual_seed(0)
    test = load_breast_cancer("test")
    result = scan(
        TorchTarget(mlp()), test.x[:20], test.y[:20], threat="linf", eps=[0.1],
        suite="quick", checks=False, minimal=False, progress=False, examples=0,
    )  # fmt: skip
    finding = PolicyFinding(rule="robust@0.1", passed=True, message="benchmark")
    verdict = PolicyVerdict(source="benchmark", passed=True, findings=[finding])
    target = result.target.model_copy(update={"sha256": None})
    return result.model_copy(update={"policy": verdict, "target": target, "examples": []})


def _spawn(spec: Spec, stderr: IO[str]) -> subprocess.Popen[str]:
    cmd = [sys.executable, "-m", "benchmarks._registry_ops", json.dumps(asdict(spec))]
    return subprocess.Popen(
        cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, text=True
    )


def _workers(specs: list[Spec], scratch: Path) -> list[Report]:
    """Start the workers, release them together once all are ready, collect reports
    (a worker's stderr goes to a file, shown if it fails)."""
    logs = [scratch / f"worker-{s.worker}.err" for s in specs]
    files = [log.open("w") for log in logs]
    procs = [_spawn(s, f) for s, f in zip(specs, files, strict=True)]
    try:
        return _collect(procs, logs)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        for f in files:
            f.close()


def _collect(procs: list[subprocess.Popen[str]], logs: list[Path]) -> list[Report]:
    for p, log in zip(procs, logs, strict=True):
        assert p.stdout is not None
        if p.stdout.readline().strip() != "ready":
            p.wait(30)
            raise RuntimeError(f"a worker failed to start:\n{log.read_text()[-2000:]}")
    for p in procs:  # the barrier: every worker is ready, release them all
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
        p.stdin.close()
    reports = []
    for p, log in zip(procs, logs, strict=True):
        assert p.stdout is not None
        out = p.stdout.read()
        p.stdout.close()
        if p.wait(600) != 0:
            raise RuntimeError(f"a worker failed (rc {p.returncode}):\n{log.read_text()[-2000:]}")
        reports.append(Report(**json.loads(out.strip().splitlines()[-1])))
    return reports


def _check_sqlite(store: Any) -> None:
    """Refuse to time a SQLite store that is not WAL + synchronous=FULL."""
    if store.engine.url.drivername != "sqlite":
        return
    with store.engine.connect() as conn:
        mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
        sync = conn.exec_driver_sql("PRAGMA synchronous").scalar_one()
    if str(mode).lower() != "wal" or int(sync) != 2:
        raise SystemExit(f"SQLite store is journal_mode={mode}, synchronous={sync}: not durable")


def run_once(
    backend: Backend, workload: str, procs: int, n: int, workdir: Path, scan: ScanResult
) -> Run:
    """A fresh database and artifact dir, the workload's setup, ``procs`` workers of
    ``n`` calls each, then the correctness checks."""
    from redline.registry import list_versions, open_store

    tag = uuid.uuid4().hex[:12]
    scratch = workdir / f"run-{tag}"
    scratch.mkdir()
    try:
        with backend.fresh(tag) as url:
            artifacts = str(scratch / "artifacts")
            store = open_store(url, artifacts=artifacts)
            try:
                _check_sqlite(store)
                incidents = setup(store, workload, scratch, scan, procs)
                before = len(store.events())
                versions = len(list_versions(store, MODEL))
                specs = [
                    Spec(workload, url, artifacts, w, n, str(scratch / f"w{w}"),
                         incidents[w] if incidents else None)
                    for w in range(procs)
                ]  # fmt: skip
                reports = _workers(specs, scratch)
                ops = sum(r.ops for r in reports)
                problems = []
                check = store.verify_audit()
                if not check.ok:
                    problems.append(f"chain breaks at #{check.bad_seq}: {check.reason}")
                grew = len(store.events()) - before
                if grew != ops:
                    problems.append(f"{grew} events for {ops} calls")
                if workload == "register":
                    added = len(list_versions(store, MODEL)) - versions
                    if added != ops:
                        problems.append(f"{added} versions for {ops} registers")
            finally:
                store.engine.dispose()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    calls: dict[str, list[float]] = {}
    for r in reports:
        for op, seconds in r.calls.items():
            calls.setdefault(op, []).extend(seconds)
    wall = max(r.end for r in reports) - min(r.start for r in reports)
    errors = [e for r in reports for e in r.errors]
    return Run(workload, backend.name, procs, ops, wall, calls, errors, problems)


# --------------------------------------------------------------------------- tables


def _pct(values: list[float], q: float) -> float:
    """The ``q``-th percentile (linear interpolation), in the unit of ``values``."""
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _rate(runs: list[Run]) -> str:
    rates = sorted(r.rate for r in runs)
    mid = f"{statistics.median(rates):,.0f}"
    return mid if len(rates) == 1 else f"{mid} ({rates[0]:,.0f}-{rates[-1]:,.0f})"


def _checks(runs: list[Run]) -> str:
    events = sum(r.ops for r in runs)
    problems = [p for r in runs for p in r.problems]
    errors = [e for r in runs for e in r.errors]
    if not problems and not errors:
        return f"yes ({events:,} events in {len(runs)} run{'s' if len(runs) > 1 else ''})"
    shown = "; ".join(dict.fromkeys(problems + errors))[:300]
    return f"**NO**: {len(errors)} failed calls; {shown}"


def _row(runs: list[Run]) -> list[object]:
    first = runs[0]
    latency = [s for r in runs for s in r.calls.get(TIMED[first.workload], [])]
    p50 = f"{1000 * _pct(latency, 50):.2f}" if latency else "-"
    p99 = f"{1000 * _pct(latency, 99):.2f}" if latency else "-"
    return [
        LABELS[first.workload],
        first.backend,
        first.procs,
        _rate(runs),
        p50,
        p99,
        _checks(runs),
    ]


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def _ratio(num: list[Run], den: list[Run]) -> str:
    if not num or not den:
        return "-"
    pairs = [a.rate / b.rate for a, b in zip(num, den, strict=True) if b.rate > 0]
    return f"{statistics.median(pairs):.2f}x" if pairs else "-"


def render(runs: list[Run], backends: list[str], procs: tuple[int, ...]) -> str:
    """The main table and the ratio table."""

    def pick(w: str, b: str, p: int) -> list[Run]:
        return [r for r in runs if (r.workload, r.backend, r.procs) == (w, b, p)]

    rows = [
        _row(pick(w, b, p)) for w in WORKLOADS for b in backends for p in procs if pick(w, b, p)
    ]
    headers = ["operation", "backend", "processes", "ops/s (median, range)", "p50 ms", "p99 ms"]
    main = _table([*headers, "audit chain ok"], rows)
    if len(backends) < 2 or len(procs) < 2:
        return main
    lo, hi = procs[0], procs[-1]
    sq, pg = backends
    ratio_rows = [
        [
            LABELS[w],
            _ratio(pick(w, pg, lo), pick(w, sq, lo)),
            _ratio(pick(w, pg, hi), pick(w, sq, hi)),
            _ratio(pick(w, sq, hi), pick(w, sq, lo)),
            _ratio(pick(w, pg, hi), pick(w, pg, lo)),
        ]
        for w in WORKLOADS
    ]
    ratio_headers = [
        "operation", f"{pg} / {sq}, {lo} proc", f"{pg} / {sq}, {hi} procs",
        f"{sq} {hi} / {lo} procs", f"{pg} {hi} / {lo} procs",
    ]  # fmt: skip
    return (
        main
        + "\n\nops/s ratios (median of per-round ratios):\n\n"
        + _table(ratio_headers, ratio_rows)
    )


# --------------------------------------------------------------------------- machine


def _filesystem(path: Path) -> str:
    """The filesystem type and device ``path`` lives on (from /proc/mounts)."""
    mounts = Path("/proc/mounts")
    if not mounts.exists():
        return "unknown filesystem"
    best = ("", "unknown", "?")
    for line in mounts.read_text().splitlines():
        dev, point, kind = line.split()[:3]
        inside = str(path.resolve()).startswith(point.rstrip("/") + "/") or point == "/"
        if inside and len(point) >= len(best[0]):
            best = (point, kind, dev)
    return f"{best[1]} ({best[2]} on {best[0]})"


def machine(workdir: Path, pg: Backend | None, why: str) -> str:
    """The machine and the durability settings, for the table."""
    import psycopg
    import sqlalchemy

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [
        f"Machine: {cores} cores ({cpu_name()}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, SQLAlchemy {sqlalchemy.__version__}, "
        f"psycopg {psycopg.__version__}; databases and artifacts on {_filesystem(workdir)}; "
        f"{redline_revision()}.",
        "Durability: SQLite journal_mode=WAL, synchronous=FULL, BEGIN IMMEDIATE (checked "
        "on every store); artifacts written with fsync of the file and its directory.",
    ]
    if pg is None:
        lines.append(f"PostgreSQL: not measured: {why}.")
    else:
        i = pg.info
        durable = i["fsync"] == "on" and i["synchronous_commit"] == "on"
        lines.append(
            f"PostgreSQL {i['server_version']} ({i['server']}): fsync={i['fsync']}, "
            f"synchronous_commit={i['synchronous_commit']}, "
            f"full_page_writes={i['full_page_writes']}, wal_sync_method={i['wal_sync_method']}"
            + ("" if durable else " -- **not durable: not comparable with SQLite FULL**")
            + "; psycopg 3 over TCP on 127.0.0.1."
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


def _plan(
    args: argparse.Namespace, backends: list[Backend], procs: tuple[int, ...]
) -> Iterator[tuple[int, str, int, list[Backend]]]:
    """(round, workload, processes, backends in this round's order); round 0 is the
    warm-up (one process, a tenth of the calls)."""
    for rnd in range(args.repeats + 1):
        for i, workload in enumerate(WORKLOADS):
            for j, p in enumerate(procs[:1] if rnd == 0 else procs):
                flip = (rnd + i + j) % 2 == 1
                yield rnd, workload, p, list(reversed(backends)) if flip else backends


def _method(args: argparse.Namespace) -> str:
    rounds = f"{args.repeats} round{'s' if args.repeats > 1 else ''}"
    return (
        f"Each run: a fresh database; {args.ops} calls per process; {rounds} after a "
        "warm-up, backends alternating. ops/s = successful calls / wall time from the "
        "first worker's start to the last one's end. p50 / p99: per-call latency over all "
        "rounds (rollback rows: the rollback calls only; their ops/s counts the rollbacks "
        f"and the re-promotes between them). All {args.procs} processes work on the same "
        "model (incident notes: each on its own open incident of it)."
    )


def _measure(
    args: argparse.Namespace, backends: list[Backend], workdir: Path, scan: ScanResult
) -> list[Run]:
    """Every round of :func:`_plan`; the timed runs (not the warm-up); progress on stderr."""
    runs: list[Run] = []
    t0 = time.perf_counter()
    for rnd, workload, p, order in _plan(args, backends, (1, args.procs)):
        n = max(5, args.ops // 10) if rnd == 0 else args.ops
        for backend in order:
            run = run_once(backend, workload, p, n, workdir, scan)
            if rnd > 0:
                runs.append(run)
            status = "ok" if not (run.problems or run.errors) else "PROBLEM"
            print(
                f"[{time.perf_counter() - t0:.0f}s] round {rnd or 'warm-up'} {workload} "
                f"{backend.name} x{p}: {run.rate:,.0f} ops/s {status}",
                file=sys.stderr, flush=True,
            )  # fmt: skip
    return runs


def main(argv: list[str] | None = None) -> None:
    """Parse flags, run every round, print and save the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--quick", action="store_true", help="fewer calls and rounds")
    parser.add_argument("--ops", type=int, default=None, help="calls per process per run")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds")
    parser.add_argument("--procs", type=int, default=8, help="processes of the concurrent runs")
    parser.add_argument("--postgres", default=None, help=f"server URL (else ${SERVER_ENV})")
    parser.add_argument("--dir", type=Path, default=None, help="where databases live")
    parser.add_argument("--out", type=Path, default=None, help="markdown file to write")
    parser.add_argument(
        "--mlflow", action=argparse.BooleanOptionalAction, default=None,
        help="the side-by-side with MLflow's model registry (default: if installed)",
    )  # fmt: skip
    parser.add_argument(
        "--only", choices=["mlflow"], default=None,
        help="run only that section (written only with --out)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    args.ops = args.ops or (30 if args.quick else 150)
    args.repeats = args.repeats or (2 if args.quick else 5)
    mlflow = args.mlflow is not False or args.only == "mlflow"
    if mlflow and _registry_mlflow.available() is None:
        print("MLflow is not installed: skipping the MLflow comparison", file=sys.stderr)
        mlflow = False
    if args.only == "mlflow" and not mlflow:
        return

    t0 = time.perf_counter()
    scan = judged_scan()
    workdir = Path(tempfile.mkdtemp(prefix="redline-bench-", dir=args.dir))
    if args.only:
        pg, cluster, why = None, None, "--only mlflow"
    else:
        pg, cluster, why = _postgres(args, workdir)
    backends = [_sqlite(workdir)] + ([pg] if pg else [])
    if why and not args.only:
        print(f"PostgreSQL skipped: {why}", file=sys.stderr)
    parts: list[str] = []
    try:
        if not args.only:
            runs = _measure(args, backends, workdir, scan)
            parts += [_method(args), render(runs, [b.name for b in backends], (1, args.procs))]
        if mlflow:  # at least 5 rounds after the warm-up (DESIGN.md)
            rounds = max(5, args.repeats)
            parts.append(
                _registry_mlflow.section(
                    workdir, scan, args.ops, rounds, shipped=not args.quick, log=sys.stderr
                )
            )
        text = machine(workdir, pg, why)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    mode = "quick" if args.quick else "full"
    body = "\n\n".join([
        f"## Registry benchmark ({mode})",
        text,
        *parts,
        f"Total wall {time.perf_counter() - t0:.0f} s.",
    ])  # fmt: skip
    print(body)
    if args.only and args.out is None:
        return
    save_results(body, args.out, "registry", args.quick)


if __name__ == "__main__":
    main()
