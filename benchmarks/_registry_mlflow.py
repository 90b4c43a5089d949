"""The registry benchmark's side-by-side with MLflow's model registry: the same three
operations (register a 1 KiB artifact, promote, roll back) on the same SQLite backend,
one process, same machine, redline and MLflow alternating.

What a timed call is, on each side (model ``m``):

- register. redline: ``register(store, "m", path)``: the file is copied into the
  content-addressed store (SHA-256 computed while copying, fsync of the file,
  rename, fsync of the directory), then the version row and its hash-chained audit
  event in one transaction. MLflow: ``create_model_version`` records ``source`` and
  neither copies nor hashes; so that both sides move the same bytes, the MLflow call
  here is ``shutil.copyfile`` into an artifact directory + fsync of the file and of
  the directory (no hash, no temp + rename), then ``create_model_version(name,
  source=<that path>)``.
- promote. redline: ``promote(store, "m@k")``: the newest stored scan's policy verdict
  is the gate, the artifact is re-hashed against its SHA-256, alias history row and
  audit event, one transaction under the model's row lock. MLflow:
  ``set_registered_model_alias(name, "production", k)``: no gate, no verification, no
  audit. Versions 1 and 2 alternately on both sides.
- rollback. redline: ``rollback(store, "m")``: the newest version that served
  production before, is not withdrawn and still passes the gate; its artifact
  re-hashed; the version rolled back from marked withdrawn; alias history + audit
  event; one transaction. MLflow has no rollback, so this is the hand-written
  equivalent a user glues together: the production history is a JSON list in a
  registered-model tag (appended on every promote of this workload);
  ``get_registered_model`` (aliases + tags), ``set_registered_model_alias`` to the
  entry before the current one, ``set_registered_model_tag`` with the list shortened:
  three transactions, not atomic, no lock, no gate, no verification, no audit. The
  bare alias move (the lower bound of any MLflow rollback) is the promote row. After
  each rollback, both sides re-promote the version rolled back from (not timed).

Durability: redline opens SQLite with WAL and ``synchronous=FULL``. MLflow sets
neither, so it runs on a copy of a freshly migrated MLflow database switched to WAL
(a persistent, per-file setting) and keeps SQLite's default ``synchronous`` (FULL on
this build, checked on every run): the same settings as redline. MLflow as shipped
(rollback journal, ``journal_mode=DELETE``) is measured too, as a third side (not in
``--quick``, to keep it short).

ops/s = timed calls / seconds spent in them (1 / mean latency; rollback: the
rollbacks only, not the re-promotes). Rounds: a warm-up round, then ``rounds`` rounds;
within a round every workload runs each side on a fresh database, the order rotating
between rounds and workloads. ops/s is the median over rounds (range after it), the
ratio the median of per-round ratios, p50 pools every round's calls.

Nothing reaches the network: ``MLFLOW_DISABLE_TELEMETRY`` and ``DO_NOT_TRACK`` are set
before MLflow is imported, and while this section runs every socket connect and name
lookup in the process is refused and counted (the count is in the output).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sqlite3
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._registry_ops import ACTOR, MODEL, ROLLBACK_VERSIONS, _artifact, setup

if TYPE_CHECKING:
    from redline.evaluation import ScanResult

__all__ = ["ENV", "available", "section"]

ENV = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
os.environ.update(ENV)  # before anything imports mlflow: no telemetry, no network

WORKLOADS = ("register", "promote", "rollback")
REDLINE, MLFLOW, SHIPPED = "redline", "MLflow", "MLflow (as shipped)"
SIDES = (REDLINE, MLFLOW, SHIPPED)
ALIAS = "production"
HISTORY = "production_history"
"""The registered-model tag the hand-written MLflow rollback keeps its history in."""
LABELS = {
    "register": "register (1 KiB artifact)",
    "promote": "promote",
    "rollback": "rollback",
}
EXTRA = {
    "register": "SHA-256 of the bytes (content-addressed: same bytes, same blob), "
    "hash-chained audit event in the same transaction",
    "promote": "policy gate on the stored scan verdict, artifact re-hashed against its "
    "SHA-256, alias history, audit event; one locked transaction",
    "rollback": "finds the last known-good version itself (served before, not withdrawn, "
    "passes the gate), re-hashes its artifact, withdraws the bad one, alias history, "
    "audit event; one locked transaction (MLflow side: 3 separate calls)",
}


def available() -> str | None:
    """MLflow's version if ``import mlflow`` works, else None."""
    try:
        import mlflow
    except Exception:
        return None
    return str(mlflow.__version__)


# --------------------------------------------------------------------------- plumbing


@dataclass
class Result:
    """One run of one workload on one side: per-call seconds of the timed calls."""

    side: str
    workload: str
    calls: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """Timed calls per second spent in them."""
        total = sum(self.calls)
        return len(self.calls) / total if total > 0 else 0.0


def _timed(result: Result, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    t0 = time.perf_counter()
    try:
        out = fn(*args, **kwargs)
    except Exception as exc:  # counted, shown in the table; the run goes on
        result.errors.append(f"{type(exc).__name__}: {' '.join(str(exc).split())[:200]}")
        return None
    result.calls.append(time.perf_counter() - t0)
    return out


def _pragmas(engine: Any) -> tuple[str, int]:
    """(journal_mode, synchronous) of a connection from ``engine``."""
    with engine.connect() as conn:
        mode = str(conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()).lower()
        sync = int(conn.exec_driver_sql("PRAGMA synchronous").scalar_one())
    return mode, sync


def _durable(result: Result, engine: Any, journal: str) -> None:
    mode, sync = _pragmas(engine)
    if mode != journal or sync != 2:
        result.problems.append(f"journal_mode={mode}, synchronous={sync} (expected {journal}, 2)")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def no_network() -> Iterator[list[str]]:
    """Refuse (and record) every socket connect and name lookup in this process."""
    attempts: list[str] = []
    saved = (
        socket.socket.connect,
        socket.socket.connect_ex,
        socket.create_connection,
        socket.getaddrinfo,
    )

    def refuse(what: str) -> Callable[..., Any]:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what}{args[1:2] if what.startswith('socket') else args[:2]}")
            raise OSError(f"network blocked by the benchmark ({what})")

        return blocked

    socket.socket.connect = refuse("socket.connect")  # type: ignore[method-assign]
    socket.socket.connect_ex = refuse("socket.connect_ex")  # type: ignore[method-assign]
    socket.create_connection = refuse("create_connection")  # type: ignore[assignment]
    socket.getaddrinfo = refuse("getaddrinfo")  # type: ignore[assignment]
    try:
        yield attempts
    finally:
        (
            socket.socket.connect,  # type: ignore[method-assign]
            socket.socket.connect_ex,  # type: ignore[method-assign]
            socket.create_connection,
            socket.getaddrinfo,
        ) = saved


# --------------------------------------------------------------------------- redline


def run_redline(workload: str, n: int, scratch: Path, scan: ScanResult) -> Result:
    """A fresh store, the workload's setup (``_registry_ops.setup``), ``n`` calls."""
    from redline.registry import (
        get_version,
        list_versions,
        open_store,
        promote,
        register,
        rollback,
    )

    result = Result(REDLINE, workload)
    store = open_store(f"sqlite:///{scratch / 'registry.db'}", artifacts=scratch / "artifacts")
    try:
        _durable(result, store.engine, "wal")
        setup(store, workload, scratch, scan, 1)
        events, versions = len(store.events()), len(list_versions(store, MODEL))
        expect = None
        if workload == "register":
            files = [_artifact(scratch / f"in-{i}.bin", f"call {i}") for i in range(n)]
            for path in files:
                _timed(result, register, store, MODEL, path, actor=ACTOR)
            writes = len(result.calls)
        elif workload == "promote":
            for i in range(n):
                expect = 1 + i % 2
                _timed(result, promote, store, f"{MODEL}@{expect}", actor=ACTOR)
            writes = len(result.calls)
        else:
            writes = 0
            for _ in range(n):
                move = _timed(result, rollback, store, MODEL, actor=ACTOR)
                if move is not None and move.previous is not None:
                    promote(store, move.previous.ref, actor=ACTOR)
                    writes += 2
            expect = ROLLBACK_VERSIONS
        check = store.verify_audit()
        if not check.ok:
            result.problems.append(f"chain breaks at #{check.bad_seq}: {check.reason}")
        grew = len(store.events()) - events
        if grew != writes:
            result.problems.append(f"{grew} events for {writes} writes")
        if workload == "register" and len(list_versions(store, MODEL)) - versions != n:
            result.problems.append("version count is off")
        if expect is not None and get_version(store, f"{MODEL}@{ALIAS}").number != expect:
            result.problems.append(f"production is not version {expect}")
    finally:
        store.engine.dispose()
    return result


# --------------------------------------------------------------------------- MLflow


def template(workdir: Path, journal: str) -> Path:
    """A freshly migrated MLflow database (tracking + registry tables) in ``journal``
    mode; every run works on a copy (migrating one takes seconds)."""
    from mlflow.tracking import MlflowClient

    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    db = workdir / f"mlflow-template-{journal}.db"
    uri = f"sqlite:///{db}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_registered_models()  # creates the store, which migrates the file
    client.search_experiments()
    _dispose(client)
    conn = sqlite3.connect(db)
    try:
        conn.execute(f"PRAGMA journal_mode={journal}")
    finally:
        conn.close()
    return db


def _dispose(client: Any) -> None:
    """Close MLflow's connection pools (its stores hold one per database URL)."""
    for getter in ("_get_registry_client", "_tracking_client"):
        owner = getattr(client, getter, None)
        owner = owner() if callable(owner) else owner
        engine = getattr(getattr(owner, "store", None), "engine", None)
        if engine is not None:
            engine.dispose()


def _engine(client: Any) -> Any:
    return client._get_registry_client().store.engine


def mlflow_promote(client: Any, name: str, version: int, history: list[int]) -> None:
    """Alias + the hand-kept production history (the rollback workload's promote)."""
    client.set_registered_model_alias(name, ALIAS, str(version))
    history.append(version)
    client.set_registered_model_tag(name, HISTORY, json.dumps(history))


def mlflow_rollback(client: Any, name: str) -> tuple[int, int]:
    """The hand-written rollback: read the history tag and the alias, point the alias
    at the version before the current one, shorten the history. (current, target)."""
    model = client.get_registered_model(name)
    history = json.loads(model.tags.get(HISTORY, "[]"))
    current = model.aliases.get(ALIAS)
    if current is None or len(history) < 2 or int(current) != history[-1]:
        raise RuntimeError(f"no previous {ALIAS} version of {name!r} to roll back to")
    target = history[-2]
    client.set_registered_model_alias(name, ALIAS, str(target))
    client.set_registered_model_tag(name, HISTORY, json.dumps(history[:-1]))
    return int(current), target


def _copy_in(src: Path, folder: Path) -> Path:
    """What redline's register does to the bytes, minus the hash and temp + rename:
    copy, fsync the file, fsync the directory."""
    dest = folder / f"{uuid.uuid4().hex}.bin"
    shutil.copyfile(src, dest)
    _fsync(dest)
    _fsync(folder)
    return dest


def mlflow_register(client: Any, name: str, src: Path, folder: Path) -> Any:
    """Copy the artifact in (durably), then ``create_model_version`` pointing at it."""
    return client.create_model_version(name, source=str(_copy_in(src, folder)))


def run_mlflow(side: str, workload: str, n: int, scratch: Path, db: Path) -> Result:
    """A copy of the template database, the same setup as redline's, ``n`` calls."""
    from mlflow.tracking import MlflowClient

    result = Result(side, workload)
    shutil.copyfile(db, scratch / "mlflow.db")
    uri = f"sqlite:///{scratch / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    folder = scratch / "artifacts"
    folder.mkdir()
    try:
        _durable(result, _engine(client), "wal" if side == MLFLOW else "delete")
        client.create_registered_model(MODEL)
        setup_versions = {"register": 1, "promote": 2, "rollback": ROLLBACK_VERSIONS}[workload]
        history: list[int] = []
        for i in range(setup_versions):
            src = _artifact(scratch / f"setup-{i}.bin", f"setup {i}")
            mlflow_register(client, MODEL, src, folder)
            if workload == "rollback":
                mlflow_promote(client, MODEL, i + 1, history)
        expect = None
        if workload == "register":
            files = [_artifact(scratch / f"in-{i}.bin", f"call {i}") for i in range(n)]
            for path in files:
                _timed(result, mlflow_register, client, MODEL, path, folder)
        elif workload == "promote":
            for i in range(n):
                expect = 1 + i % 2
                _timed(result, client.set_registered_model_alias, MODEL, ALIAS, str(expect))
        else:
            for _ in range(n):
                moved = _timed(result, mlflow_rollback, client, MODEL)
                if moved is not None:
                    history.pop()
                    mlflow_promote(client, MODEL, moved[0], history)
            expect = ROLLBACK_VERSIONS
        found = client.search_model_versions(f"name='{MODEL}'")
        want = setup_versions + (len(result.calls) if workload == "register" else 0)
        if len(found) != want:
            result.problems.append(f"{len(found)} versions, expected {want}")
        if any(Path(v.source).stat().st_size != 1024 for v in found):
            result.problems.append("a version's source is not its 1 KiB copy")
        if expect is not None:
            at = client.get_model_version_by_alias(MODEL, ALIAS).version
            if int(at) != expect:
                result.problems.append(f"{ALIAS} is version {at}, expected {expect}")
        if workload == "rollback":
            kept = json.loads(client.get_registered_model(MODEL).tags[HISTORY])
            if kept != list(range(1, ROLLBACK_VERSIONS + 1)):
                result.problems.append(f"history tag is {kept}")
    finally:
        _dispose(client)
    return result


# --------------------------------------------------------------------------- section


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _rate(runs: list[Result]) -> str:
    rates = sorted(r.rate for r in runs)
    if not rates:
        return "-"
    mid = f"{statistics.median(rates):,.0f}"
    return mid if len(rates) == 1 else f"{mid} ({rates[0]:,.0f}-{rates[-1]:,.0f})"


def _p50(runs: list[Result]) -> str:
    calls = [s for r in runs for s in r.calls]
    return f"{1000 * _pct(calls, 50):.2f}" if calls else "-"


def _ratio(num: list[Result], den: list[Result]) -> str:
    pairs = [a.rate / b.rate for a, b in zip(num, den, strict=True) if b.rate > 0]
    return f"{statistics.median(pairs):.2f}x" if pairs else "-"


def _checks(runs: list[Result]) -> str:
    problems = list(dict.fromkeys(p for r in runs for p in r.problems + r.errors))
    if not problems:
        return f"ok ({len(runs)} run{'s' if len(runs) != 1 else ''})"
    return f"**NO**: {'; '.join(problems)[:300]}"


def _table(headers: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    return "\n".join(lines + ["| " + " | ".join(str(c) for c in row) + " |" for row in rows])


def render(results: list[Result], rounds: int, n: int, attempts: list[str], shipped: bool) -> str:
    """The section: what was measured, the main table, MLflow as shipped."""
    import mlflow
    import sqlalchemy

    def pick(side: str, workload: str) -> list[Result]:
        return [r for r in results if (r.side, r.workload) == (side, workload)]

    rows = [
        [
            LABELS[w],
            _rate(pick(REDLINE, w)),
            _rate(pick(MLFLOW, w)),
            _ratio(pick(REDLINE, w), pick(MLFLOW, w)),
            _p50(pick(REDLINE, w)),
            _p50(pick(MLFLOW, w)),
            EXTRA[w],
            f"redline {_checks(pick(REDLINE, w))}; MLflow {_checks(pick(MLFLOW, w))}",
        ]
        for w in WORKLOADS
    ]
    headers = [
        "operation", "redline ops/s", "MLflow ops/s", "ratio redline/MLflow",
        "redline p50 ms", "MLflow p50 ms", "what redline does that MLflow does not",
        "checked",
    ]  # fmt: skip
    shipped_rows = [
        [
            LABELS[w],
            _rate(pick(SHIPPED, w)),
            _p50(pick(SHIPPED, w)),
            _ratio(pick(REDLINE, w), pick(SHIPPED, w)),
            _ratio(pick(MLFLOW, w), pick(SHIPPED, w)),
            _checks(pick(SHIPPED, w)),
        ]
        for w in (WORKLOADS if shipped else ())
    ]
    shipped_headers = [
        "operation", "MLflow as shipped ops/s", "p50 ms", "ratio redline/shipped",
        "ratio MLflow WAL/shipped", "checked",
    ]  # fmt: skip
    net = "none" if not attempts else f"**{len(attempts)}** ({'; '.join(attempts[:5])})"
    try:
        from mlflow.telemetry.client import get_telemetry_client

        client = "none" if get_telemetry_client() is None else "**running**"
    except ImportError:
        client = "n/a"
    return "\n\n".join([
        "## vs MLflow model registry (SQLite, 1 process)",
        f"MLflow {mlflow.__version__} (`MlflowClient` with tracking and registry URI "
        f"`sqlite:///...`), SQLAlchemy {sqlalchemy.__version__}, SQLite "
        f"{sqlite3.sqlite_version}. Telemetry off ({', '.join(f'{k}={v}' for k, v in ENV.items())}"
        f"; MLflow telemetry client: {client}); network attempts during this section "
        f"(refused and counted): {net}.",
        "redline and MLflow both on journal_mode=WAL, synchronous=FULL (checked on every "
        "run; MLflow's database switched to WAL, which MLflow does not do itself); "
        f"in-process, one call at a time; a fresh database per run; {n} calls per run; "
        f"{rounds} rounds after a warm-up, sides rotating. ops/s = calls / seconds in "
        "them (median over rounds, range); ratio = median of per-round ratios (above 1: "
        "redline faster); p50 over every round's calls.",
        "Per call: **register** redline `register` (copy with SHA-256, fsync file, "
        "rename, fsync dir; version row + audit event in one transaction) vs MLflow "
        "`shutil.copyfile` into an artifact dir + fsync file + fsync dir (added here: "
        "MLflow itself neither copies nor hashes) + `create_model_version(source=copy)`. "
        "**promote** redline `promote(m@k)` vs MLflow `set_registered_model_alias` "
        "(k = 1, 2 alternately). **rollback** redline `rollback(m)` vs a hand-written "
        "MLflow rollback: `get_registered_model` (alias + a JSON history tag kept by "
        "this benchmark's promotes), `set_registered_model_alias` to the previous entry, "
        "`set_registered_model_tag` (3 calls, not atomic); the version rolled back from "
        "is re-promoted after each (not timed). Checks: redline audit chain verifies, "
        "one event per write, version count, where production points; MLflow version "
        "count, each source is its 1 KiB copy, where the alias points, history tag.",
        _table(headers, rows),
        "MLflow as shipped (its default rollback journal, journal_mode=DELETE, "
        "synchronous=FULL), same rounds:" if shipped else
        "(MLflow as shipped, on its default rollback journal: full mode only.)",
        *([_table(shipped_headers, shipped_rows)] if shipped else []),
    ])  # fmt: skip


def _order(sides: tuple[str, ...], rnd: int, i: int) -> list[str]:
    k = (rnd + i) % len(sides)
    return list(sides[k:] + sides[:k])


def section(
    workdir: Path, scan: ScanResult, n: int, rounds: int, *, shipped: bool = True, log: Any = None
) -> str:
    """Warm-up + ``rounds`` rounds of every workload on every side (MLflow as shipped
    too if ``shipped``); the Markdown."""
    sides = SIDES if shipped else (REDLINE, MLFLOW)
    results: list[Result] = []
    t0 = time.perf_counter()
    root = workdir / "mlflow-vs"
    root.mkdir()
    try:
        with no_network() as attempts:
            dbs = {MLFLOW: template(root, "wal")}
            if shipped:
                dbs[SHIPPED] = template(root, "delete")
            for rnd in range(rounds + 1):
                calls = max(5, n // 10) if rnd == 0 else n
                for i, workload in enumerate(WORKLOADS):
                    for side in _order(sides, rnd, i):
                        scratch = root / f"{uuid.uuid4().hex[:12]}"
                        scratch.mkdir()
                        try:
                            if side == REDLINE:
                                res = run_redline(workload, calls, scratch, scan)
                            else:
                                res = run_mlflow(side, workload, calls, scratch, dbs[side])
                        finally:
                            shutil.rmtree(scratch, ignore_errors=True)
                        if rnd > 0:
                            results.append(res)
                        if log is not None:
                            ok = "ok" if not (res.problems or res.errors) else "PROBLEM"
                            print(
                                f"[{time.perf_counter() - t0:.0f}s] mlflow round "
                                f"{rnd or 'warm-up'} {workload} {side}: {res.rate:,.0f} "
                                f"ops/s {ok}",
                                file=log, flush=True,
                            )  # fmt: skip
            return render(results, rounds, n, list(attempts), shipped)
    finally:
        shutil.rmtree(root, ignore_errors=True)
