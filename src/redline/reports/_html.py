"""The self-contained HTML report: a Jinja2 template fed only from the ``ScanResult``."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

from redline.reports._attacks import attack_rows, eps_header, settings_rows
from redline.reports._backdoor import VERDICT_TONES, backdoor_view
from redline.reports._certify import certify_chart
from redline.reports._charts import calibration_note, reliability_chart, render_charts
from redline.reports._format import (
    class_name,
    fmt_ci,
    fmt_eps,
    fmt_num,
    fmt_pct,
    fmt_value,
    fmt_when,
    norm_label,
    sorted_checks,
    status_counts,
    write_text,
)
from redline.reports._headline import headline
from redline.reports._images import example_views
from redline.reports._shift import gap_text, shift_view, slice_gaps
from redline.results import Accuracy, GroupAccuracy, ScanResult

__all__ = ["GroupRow", "Tile", "render_html", "write_html"]

_TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class Tile:
    """One headline number of the verdict card."""

    label: str
    value: str
    sub: tuple[str, ...]
    tone: str = "neutral"
    path: str | None = None


@dataclass(frozen=True)
class GroupRow:
    """One class or slice: its accuracy clean and at every eps (``None`` where not reported)."""

    name: str
    n: int
    clean: Accuracy | None
    robust: list[Accuracy | None]


def jinja_environment(**filters: Any) -> Environment:
    """A Jinja2 environment over redline's templates: autoescaped, strict about
    undefined names, with ``filters``."""
    env = Environment(
        loader=FileSystemLoader(_TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(filters)
    return env


@cache
def _environment() -> Environment:
    """The report's environment, with the report filters."""
    return jinja_environment(
        pct=fmt_pct, ci=fmt_ci, eps=fmt_eps, num=fmt_num, value=fmt_value, when=fmt_when
    )


def _accuracy_tile(label: str, acc: Accuracy, base: Accuracy | None) -> Tile:
    lines = [f"95% CI {fmt_ci(acc)}", f"n = {acc.n:,}"]
    if base is not None:
        drop = 100.0 * (acc.value - base.value)
        lines[1] += f" · {drop:+.1f} pts".replace("-", "\u2212")
    return Tile(label, fmt_pct(acc.value), tuple(lines), "accent" if base is None else "neutral")


def _policy_tile(result: ScanResult) -> Tile:
    if result.policy is None:
        return Tile("Policy", "none", ("no policy file given",), "SKIP")
    failed = sum(not f.passed for f in result.policy.findings)
    total = len(result.policy.findings)
    verdict = "PASS" if result.policy.passed else "FAIL"
    sub = f"{failed} of {total} rules failed" if failed else f"all {total} rules passed"
    return Tile("Policy", verdict, (sub,), verdict, result.policy.source)


def _checks_tile(result: ScanResult) -> Tile:
    counts = status_counts(result.checks)
    if not result.checks:
        return Tile("Sanity checks", "none", ("no checks were run",), "SKIP")
    tone = next((s for s in ("FAIL", "WARN") if counts[s]), "PASS")
    value = f"{counts[tone]} {tone}" if tone != "PASS" else "all pass"
    rest = [f"{n} {s}" for s, n in counts.items() if n and s != tone]
    lines = [" · ".join(rest[i : i + 2]) for i in range(0, len(rest), 2)]
    return Tile(
        "Sanity checks",
        value,
        (*lines, f"{len(result.checks)} check{'s' if len(result.checks) > 1 else ''} in all"),
        tone,
    )


def _backdoor_tile(result: ScanResult) -> list[Tile]:
    """The backdoor verdict and the classes it points at (no tile without a backdoor part)."""
    section = result.backdoor
    if section is None:
        return []
    flagged = section.model.flagged_classes if section.model else []
    if not flagged:
        flagged = sorted({c for d in section.data for c in d.suspicious_classes})
    names = [class_name(result, c) for c in flagged]
    sub = (
        f"class{'es' if len(names) > 1 else ''} {', '.join(names)}" if names else "no class flagged"
    )
    parts = len(section.data) + sum(x is not None for x in (section.model, section.strip))
    lines = (sub, f"{parts} detector{'s' if parts != 1 else ''} run")
    return [Tile("Backdoor", section.verdict, lines, VERDICT_TONES[section.verdict])]


def _shift_tile(result: ScanResult) -> list[Tile]:
    """Mean accuracy under natural shift (no tile without that stage)."""
    ns = result.natural_shift
    if ns is None:
        return []
    drop = f"{-100 * ns.drop:+.1f} pts vs clean".replace("-", "\u2212")
    lines = (f"95% CI {fmt_ci(ns.mean_accuracy)}", drop)
    label = "Corruptions" if ns.kind == "image" else "Natural shift"
    return [Tile(label, fmt_pct(ns.mean_accuracy.value), lines)]


def _tiles(result: ScanResult) -> list[Tile]:
    """Clean and robust accuracies, the backdoor verdict, the policy and the check counts."""
    clean = result.clean.accuracy
    tiles = [_accuracy_tile("Clean accuracy", clean, None)] if clean.n else []
    tiles += [_accuracy_tile(f"Robust · ε = {fmt_eps(r.eps)}", r.robust, clean) for r in result.eps]
    tiles += [*_shift_tile(result), *_backdoor_tile(result), _policy_tile(result)]
    return [*tiles, _checks_tile(result)] if _evasion(result) else tiles


def _evasion(result: ScanResult) -> bool:
    """Whether the scan has an evasion part (a backdoor-only scan has no threat model)."""
    return result.config.norm is not None


def _lede(result: ScanResult) -> str:
    """One sentence a reviewer can quote: the accuracy drop at the eps that matters."""
    clean = result.clean.accuracy
    if not _evasion(result) and result.backdoor is not None:
        return f"Backdoor verdict: {result.backdoor.verdict}. {result.backdoor.summary}"
    if not result.eps:
        return f"Clean accuracy {fmt_pct(clean.value)} on {clean.n:,} samples; no attack run."
    return headline(result)


def _group_rows(clean: list[GroupAccuracy], per_eps: list[list[GroupAccuracy]]) -> list[GroupRow]:
    """Rows of a per-class / per-slice table, names in first-seen order."""
    maps = [{g.name: g.accuracy for g in groups} for groups in per_eps]
    clean_map = {g.name: g.accuracy for g in clean}
    names = list(clean_map)
    for m in maps:
        names += [n for n in m if n not in names]
    rows = []
    for name in names:
        accs = [m.get(name) for m in maps]
        first = clean_map.get(name) or next((a for a in accs if a is not None), None)
        rows.append(GroupRow(name, first.n if first else 0, clean_map.get(name), accs))
    return rows


def _repro(result: ScanResult) -> dict[str, list[tuple[str, Any]]]:
    """Reproducibility panels: environment, model, data and run settings as key/values."""
    t, d, c = result.target, result.data, result.config
    return {
        "Environment": list(result.environment.model_dump().items()),
        "Model": [
            ("kind", t.kind), ("source", t.source), ("format", t.format),
            ("bounds", list(t.bounds)), ("mean", t.mean), ("std", t.std), ("eot", t.eot),
            ("classes", t.num_classes), ("parameters", t.num_parameters),
        ],
        "Data": [
            ("source", d.source), ("samples", d.n_samples), ("input shape", d.input_shape),
            ("classes", d.num_classes), ("groups", d.groups),
        ],
        "Run": [
            ("seed", c.seed), ("norm", norm_label(c.norm)), ("eps", [fmt_eps(e) for e in c.eps]),
            ("suite", c.suite), ("batch size", c.batch_size), ("checks", c.checks),
            ("check samples", c.check_samples), ("schema", result.schema_version),
            ("created", result.created_at),
        ] if _evasion(result) else [
            ("seed", c.seed), ("batch size", c.batch_size), ("schema", result.schema_version),
            ("created", result.created_at),
        ],
    }  # fmt: skip


def _context(result: ScanResult) -> dict[str, Any]:
    """Everything the template needs, derived from the result alone."""
    eps_classes = [r.per_class for r in result.eps]
    evasion = _evasion(result)
    charts = render_charts(result) if evasion else {"reliability": reliability_chart(result)}
    if result.certified is not None:
        charts["certified"] = certify_chart(result.certified)
    return {
        "r": result,
        "evasion": evasion,
        "bd": backdoor_view(result),
        "title": result.target.source or f"{result.target.kind} model",
        "lede": _lede(result),
        "tiles": _tiles(result),
        "counts": status_counts(result.checks),
        "checks": sorted_checks(result.checks),
        "charts": {k: Markup(v) for k, v in charts.items()},
        "calibration_note": calibration_note(result),
        "attack_rows": attack_rows(result),
        "settings": settings_rows(result),
        "grid": eps_header(result),
        "examples": example_views(result),
        "class_rows": _group_rows(result.clean.per_class, eps_classes),
        "slice_rows": _group_rows(result.clean.per_slice, [r.per_slice for r in result.eps]),
        "slice_gaps": slice_gaps(result),
        **_shift_context(result),
        "repro": _repro(result),
        "norm": norm_label(result.config.norm),
        "chance": 1.0 / max(result.target.num_classes, 1),
    }


def _shift_context(result: ScanResult) -> dict[str, Any]:
    """The natural-shift section's heat map, severities and slice gap."""
    ns = result.natural_shift
    if ns is None:
        return {}
    severities = sorted({lv.severity for row in ns.rows for lv in row.levels})
    return {
        "shift_rows": shift_view(ns),
        "shift_severities": severities,
        "shift_gap": gap_text(ns.slice_gap),
    }


def render_html(result: ScanResult) -> str:
    """The report as one self-contained HTML string (inline CSS, SVG and PNG data URIs)."""
    return _environment().get_template("report.html.j2").render(**_context(result))


def write_html(result: ScanResult, path: Path) -> None:
    """Write the self-contained HTML report to ``path`` (folders created as needed)."""
    write_text(Path(path), render_html(result))
