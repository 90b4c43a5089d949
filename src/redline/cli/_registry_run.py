"""What the ``redline registry`` commands do once parsed (imported lazily: heavy)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from redline._atomic import atomic_writer
from redline.cli._store_opts import open_cli_store
from redline.errors import InputError
from redline.registry import (
    Store,
    add_note,
    get_version,
    list_scans,
    list_versions,
    load_artifact,
    parse_ref,
    promote,
    register,
    rollback,
)
from redline.registry._inspect import aliases_of, list_models, referenced_hashes

if TYPE_CHECKING:
    from redline.policy import Policy

__all__ = [
    "AddRequest",
    "print_list",
    "print_show",
    "run_add",
    "run_check",
    "run_get",
    "run_promote",
    "run_rollback",
]


@dataclass(frozen=True)
class AddRequest:
    """What ``registry add`` registers."""

    name: str
    weights: Path
    model: str | None
    manifests: list[Path]
    parent: str | None
    training_config: Path | None
    note: str | None


def _training_config(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"--training-config {path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"--training-config {path}: not readable JSON ({exc})") from None
    if not isinstance(found, dict):
        raise InputError(f"--training-config {path}: expected a JSON object")
    return found


def _input_spec(contract: tuple[str, str | None, str | None]) -> dict[str, Any]:
    from redline.cli._common import parse_floats

    bounds, mean, std = contract
    spec: dict[str, Any] = {"bounds": parse_floats(bounds, "bounds", count=2)}
    if mean is not None:
        spec["mean"] = parse_floats(mean, "mean")
    if std is not None:
        spec["std"] = parse_floats(std, "std")
    return spec


def _framework(req: AddRequest, spec: dict[str, Any], check_load: bool) -> str:
    """Load the weights as ``scan`` would, so what cannot be scanned is not registered."""
    if not check_load:
        return "torch"
    from redline.cli._options import ModelSpec

    bounds = ",".join(str(b) for b in spec["bounds"])
    mean = ",".join(map(str, spec["mean"])) if "mean" in spec else None
    std = ",".join(map(str, spec["std"])) if "std" in spec else None
    model = ModelSpec(req.model, req.weights, False, bounds, mean, std, "cpu")
    _, info = model.load()
    return f"torch/{info.format}"


def run_add(
    req: AddRequest,
    contract: tuple[str, str | None, str | None],
    check_load: bool,
    url: str | None,
    actor: str,
) -> None:
    """Validate everything, then register and print ``name@number``. The store is
    created (and that said) only once the input is known good; with ``--parent`` it must
    already exist (the parent is in it)."""
    if parse_ref(req.name)[1] is not None:
        raise InputError(f"{req.name!r}: give a model name, without '@'")
    spec = _input_spec(contract)
    config = _training_config(req.training_config)
    if not req.weights.is_file():
        raise InputError(f"--weights {req.weights}: no such file")
    store = None
    if req.parent is not None:
        store = open_cli_store(url, "write")
        get_version(store, req.parent)
    framework = _framework(req, spec, check_load)
    store = store or open_cli_store(url, "create")
    info = register(
        store,
        req.name,
        req.weights,
        actor=actor,
        framework=framework,
        entry_point=req.model,
        input_spec=spec,
        parent=req.parent,
        data_manifests=req.manifests,
        training_config=config,
        note=req.note,
    )
    typer.echo(info.ref)
    typer.echo(
        f"registered {info.ref}: sha256 {info.artifact_sha256}, {info.artifact_size} bytes",
        err=True,
    )


def print_list(store: Store, name: str | None) -> None:
    """Models (no name) or the versions of one model, one line each, on stdout."""
    if name is None:
        for model, count, production in list_models(store):
            serving = f", production {model}@{production}" if production else ""
            typer.echo(f"{model}: {count} version(s){serving}")
        return
    held = aliases_of(store, name)
    for v in list_versions(store, name):
        scans = list_scans(store, v.ref)
        verdict = "never scanned" if not scans else _verdict(scans[-1].passed, scans[-1].id)
        tags = ",".join(held.get(v.number, [])) or "-"
        withdrawn = "  WITHDRAWN" if v.withdrawn_at else ""
        line = f"{v.ref}\t{v.artifact_sha256[:12]}\t{tags}\t{verdict}\t{v.created_by}"
        typer.echo(line + withdrawn)


def _verdict(passed: bool | None, scan_id: int) -> str:
    words = {True: "passed", False: "FAILED", None: "no policy"}
    return f"scan #{scan_id} {words[passed]}"


def print_show(store: Store, ref: str) -> None:
    """One version, its aliases and its scans, as JSON on stdout."""
    info = get_version(store, ref)
    body = asdict(info)
    body["aliases"] = aliases_of(store, info.model).get(info.number, [])
    body["scans"] = [
        {"id": s.id, "passed": s.passed, "created_at": s.created_at} for s in list_scans(store, ref)
    ]
    typer.echo(json.dumps(body, indent=1))


def _policy(path: Path | None) -> Policy | None:
    """The gate's policy, imported only by the commands that judge (pydantic models)."""
    if path is None:
        return None
    from redline.policy import load_policy

    return load_policy(path)


def run_promote(
    ref: str, to: str, gate: tuple[Path | None, bool, str | None], store: Store, actor: str
) -> None:
    """Promote through the gate (RefusedError -> exit 1) and say what moved."""
    policy_path, force, reason = gate
    moved = promote(
        store, ref, actor=actor, to=to, policy=_policy(policy_path), force=force, reason=reason
    )
    before = f" (was {moved.previous.ref})" if moved.previous else ""
    typer.echo(moved.version.ref)
    if moved.forced and moved.gate is not None:
        typer.echo(
            f"FORCED {to} -> {moved.version.ref}{before} over a failing gate "
            f"({moved.gate.reason}); reason: {reason}",
            err=True,
        )
    else:
        why = moved.gate.reason if moved.gate else "passed"
        typer.echo(f"{to} -> {moved.version.ref}{before}: {why}", err=True)


def run_rollback(
    name: str,
    alias: str,
    extra: tuple[Path | None, str | None, int | None],
    store: Store,
    actor: str,
) -> None:
    """Roll back, then (``--incident``) note it on the incident's timeline."""
    policy_path, reason, incident = extra
    if incident is not None:
        from redline.registry import get_incident

        found = get_incident(store, incident)
        if found.model != name:
            raise InputError(f"incident #{incident} is about {found.model!r}, not {name!r}")
    moved = rollback(
        store, name, actor=actor, alias=alias, policy=_policy(policy_path), reason=reason
    )
    assert moved.previous is not None
    typer.echo(moved.version.ref)
    typer.echo(
        f"{alias}: {moved.previous.ref} -> {moved.version.ref} (artifact verified)", err=True
    )
    for ref, why in moved.skipped:
        typer.echo(f"  passed over {ref}: {why}", err=True)
    if incident is not None:
        note = f"rolled back {moved.previous.ref} -> {moved.version.ref}" + (
            f": {reason}" if reason else ""
        )
        refs = [moved.previous.ref, moved.version.ref]
        add_note(store, incident, note, actor=actor, versions=refs)


def run_get(store: Store, ref: str, out: Path) -> None:
    """Copy the verified artifact to ``out`` atomically."""
    if out.is_dir() or not out.parent.is_dir():
        raise InputError(f"--out {out}: not a file path in an existing folder")
    info, path = load_artifact(store, ref)
    data = store.artifacts.read_bytes(info.artifact_sha256)
    with atomic_writer(out) as handle:
        handle.write(data)
    typer.echo(f"{info.ref} -> {out} ({len(data)} bytes, sha256 verified; {path})", err=True)


def run_check(store: Store, clean: bool, min_age: float) -> int:
    """Every referenced artifact present and intact; partial writes and orphans
    reported (and removed with ``clean``). Exit 1 when anything needs attention."""
    referenced = referenced_hashes(store)
    found = store.artifacts.check(set(referenced))
    missing = sorted(h for h in referenced if not store.artifacts.exists(h))
    for sha in missing:
        typer.echo(f"MISSING artifact {sha} of {', '.join(referenced[sha])}", err=True)
    for sha in found.corrupt:
        where = ", ".join(referenced.get(sha, ["no version"]))
        typer.echo(f"CORRUPT {store.artifacts.path(sha)} ({where})", err=True)
    removed = store.artifacts.clean(set(referenced), min_age=min_age) if clean else None
    for tmp in found.partial:
        gone = removed is not None and tmp in removed.partial
        typer.echo(f"partial write {tmp}{' (removed)' if gone else ''}", err=True)
    for sha in found.orphans:
        gone = removed is not None and sha in removed.orphans
        typer.echo(f"orphan {store.artifacts.path(sha)}{' (removed)' if gone else ''}", err=True)
    left = len(found.partial) + len(found.orphans)
    if removed is not None:
        left -= len(removed.partial) + len(removed.orphans)
    bad = len(missing) + len(found.corrupt)
    typer.echo(
        f"{len(referenced)} artifact(s) referenced; {bad} missing or corrupt, "
        f"{left} partial or orphan left",
        err=True,
    )
    return 1 if bad or left else 0
