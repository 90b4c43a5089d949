"""``redline report`` (re-render / re-judge a saved scan, or compare two scans) and
``redline attacks`` (list).

``report`` is a group whose default command is ``rebuild``: ``redline report scan.json``
works as it always did, and ``redline report compare A B`` compares two scans. A first
argument that names no subcommand goes to ``rebuild`` (a scan file literally named
``compare`` is ``./compare``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from typer.core import TyperGroup

from redline.cli._store_opts import StoreUrl

if TYPE_CHECKING:
    from typer._click.core import Context

    from redline.registry import Store
    from redline.reports import Comparison, VersionMeta
    from redline.results import ScanResult

__all__ = ["app", "attacks", "compare", "report"]

_FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".markdown": "markdown"}


class _DefaultToRebuild(TyperGroup):
    """A group whose first argument, when it names no subcommand, goes to ``rebuild``."""

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["rebuild", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_DefaultToRebuild,
    no_args_is_help=True,
    subcommand_metavar="SCAN_JSON [OPTIONS] | compare A B [OPTIONS]",
    help="Rebuild the reports of a saved scan, or compare two scans.\n\n"
    "redline report SCAN_JSON rebuilds them; redline report compare A B compares.",
)


def report(
    scan_json: Annotated[Path, typer.Argument(help="A scan.json written by redline scan.")],
    out: Annotated[
        Path,
        typer.Option(
            help="Report folder to write. It must not hold a report yet (the default too), "
            "unless --force.",
        ),
    ] = Path("redline-report"),
    policy: Annotated[Path | None, typer.Option(help="Policy to apply (redline.toml).")] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace the report already in --out (refused if the folder holds any "
            "other file, such as the demo's model.pt).",
        ),
    ] = False,
) -> int:
    """Rebuild the reports of a scan.json, optionally under a new policy.

    The reports: HTML, JUnit, SARIF and Markdown.

    The default subcommand: redline report SCAN_JSON is redline report rebuild SCAN_JSON.
    An existing report is never replaced silently: a folder that already holds one is
    refused (exit 2) unless --force."""
    from redline.cli._common import print_summary
    from redline.cli._run import judge_and_write
    from redline.policy import load_policy
    from redline.results import ScanResult

    result = ScanResult.from_json(scan_json)
    rules = load_policy(policy) if policy is not None else None
    _check_out(out, force)
    result = judge_and_write(result, rules, out)
    print_summary(result, str(out))
    return 1 if result.policy is not None and not result.policy.passed else 0


def _check_out(out: Path, force: bool) -> None:
    """Refuse to replace a report without --force, and ever to delete files that are no
    report's (the re-rendered folder is swapped in whole)."""
    from redline.errors import InputError
    from redline.reports._bundle import REPORT_FILES, check_output_dir

    check_output_dir(out)
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise InputError(
            f"{out}: a report is already there; pass --force to replace it or choose another --out"
        )
    if others := sorted(p.name for p in out.iterdir() if p.name not in REPORT_FILES):
        raise InputError(
            f"{out}: --force would also delete {', '.join(others)}; choose another --out"
        )


def compare(
    a: Annotated[
        str, typer.Argument(metavar="A", help="Baseline: a scan JSON, or a registry ref name@3.")
    ],
    b: Annotated[
        str, typer.Argument(metavar="B", help="Candidate: a scan JSON, or a registry ref name@4.")
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="File to write; .html or .md picks the format. Without it the Markdown "
            "headline goes to stdout.",
        ),
    ] = None,
    store: StoreUrl = None,
    allow_different_data: Annotated[
        bool,
        typer.Option(
            "--allow-different-data", help="Compare scans run on different data (with a warning)."
        ),
    ] = False,
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on",
            metavar="GATE",
            help="Exit 1 when B is worse than A this way (repeatable): checks (a sanity "
            "check regressed or fails in B), robust (robust accuracy worse at a shared eps), "
            "clean (clean accuracy worse), certified (certified accuracy worse at an L2 radius), "
            "policy (B fails its policy). Worse means the 95% intervals do not overlap.",
        ),
    ] = None,
) -> int:
    """Compare two scans side by side, as HTML or Markdown for a pull request.

    Every metric's change and whether it clears the 95% intervals, sanity checks and
    policy side by side, scan and training cost. A and B are scan JSON files or registry
    refs (name@3: its latest stored scan, with lineage and training cost); a string with
    '@' that is no existing file is a ref."""
    from redline.cli._store_opts import out_file
    from redline.errors import InputError
    from redline.reports import compare_html, compare_markdown, compare_results
    from redline.reports._compare_gate import GATES

    gates = fail_on or []
    if bad := [g for g in gates if g not in GATES]:
        raise InputError(f"--fail-on {bad[0]}: unknown gate; choose from {', '.join(GATES)}")
    fmt = None if out is None else _FORMATS.get(out.suffix.lower())
    if out is not None and fmt is None:
        raise InputError(f"--out {out}: use a .html or .md file name (the suffix picks the format)")
    target = None if out is None else out_file(out)
    (ra, ma, la), (rb, mb, lb) = _load_pair(a, b, store)
    found = compare_results(
        ra, rb, labels=_labels((la, lb), (a, b)), meta_a=ma, meta_b=mb,
        allow_different_data=allow_different_data,
    )  # fmt: skip
    if target is None:
        typer.echo(compare_markdown(found, headline_only=True), nl=False)
    else:
        _write(target, compare_html(found) if fmt == "html" else compare_markdown(found))
        for notice in found.notices:
            typer.echo(f"{notice.level.lower()}: {notice.title}", err=True)
        la, lb = found.labels
        typer.echo(f"comparison of {la} and {lb} written to {target}", err=True)
    return _gate(found, gates)


def _gate(found: Comparison, gates: list[str]) -> int:
    """Exit 1, each reason on stderr, when B regressed under one of ``gates``."""
    from redline.reports._compare_gate import regressions

    reasons = regressions(found, gates)
    for reason in reasons:
        typer.echo(f"regression: {reason}", err=True)
    return 1 if reasons else 0


def _write(target: Path, text: str) -> None:
    """Write atomically: a reader never sees half a file, a failure leaves none."""
    from redline._atomic import atomic_writer
    from redline.errors import InputError

    try:
        with atomic_writer(target) as handle:
            handle.write(text.encode("utf-8"))
    except OSError as exc:
        raise InputError(f"{target}: cannot write the comparison ({exc.strerror or exc})") from None


Side = tuple["ScanResult", "VersionMeta | None", str]


def _is_ref(arg: str) -> bool:
    return "@" in arg and not Path(arg).exists()


def _load_pair(a: str, b: str, store_url: str | None) -> tuple[Side, Side]:
    """Both sides, opening the store once if either is a registry ref."""
    if not (_is_ref(a) or _is_ref(b)):
        return _from_file(a), _from_file(b)
    from redline.cli._store_opts import open_cli_store

    opened = open_cli_store(store_url, "read")
    try:
        sides = [_from_store(opened, x) if _is_ref(x) else _from_file(x) for x in (a, b)]
    finally:
        opened.engine.dispose()
    return sides[0], sides[1]


def _from_file(arg: str) -> Side:
    from redline.results import ScanResult

    path = Path(arg)
    return ScanResult.from_json(path), None, path.name


def _from_store(store: Store, ref: str) -> Side:
    """The latest scan stored against ``ref``, with the version's lineage and training."""
    from redline.errors import InputError
    from redline.registry import get_version, latest_scan, lineage
    from redline.reports import VersionMeta

    version = get_version(store, ref)
    record = latest_scan(store, version.ref)
    if record is None:
        raise InputError(f"{version.ref} has no stored scan: run redline scan --registry {ref}")
    parents = lineage(store, version)
    meta = VersionMeta.from_version(version, parents[0] if parents else None)
    return record.scan_result(), meta, version.ref


def _labels(names: tuple[str, str], args: tuple[str, str]) -> tuple[str, str]:
    """Side names: the refs or file names; the arguments as given when the names are the
    same (two scan.json in different folders); A:/B: when the arguments are too."""
    if names[0] != names[1]:
        return names
    if args[0] != args[1]:
        return args
    return f"A: {args[0]}", f"B: {args[1]}"


def attacks() -> None:
    """List the attacks and suites redline knows."""
    from rich.console import Console
    from rich.table import Table

    from redline.attacks import Attack
    from redline.attacks._registry import ATTACKS
    from redline.evaluation import SUITES

    console = Console()
    table = Table(title="attacks")
    for col in ("name", "norms", "access", "kind"):
        table.add_column(col)
    for name, factory in ATTACKS.items():
        cls = cast("type[Attack]", getattr(factory, "func", factory))
        table.add_row(
            name,
            ", ".join(cls.norms),
            "white-box" if cls.needs_gradients else "black-box",
            "minimum-norm" if cls.minimum_norm else "fixed eps",
        )
    console.print(table)
    for suite in SUITES.values():
        console.print(f"[bold]{suite.name}[/]: {suite.description}")


app.command("rebuild")(report)
app.command("compare")(compare)
