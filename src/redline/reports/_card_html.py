"""The model card as one self-contained HTML page (inline CSS, no scripts, no external
resources), rendered by the autoescaping Jinja2 environment of the scan report."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redline._version import __version__
from redline.reports._card_governance import DISCLAIMER, NOT_IN_STORE
from redline.reports._card_view import (
    action_label,
    alerts,
    fmt_bytes,
    incident_versions,
    production_line,
    scan_weights_line,
)
from redline.reports._format import (
    fmt_ci,
    fmt_eps,
    fmt_pct,
    norm_label,
    sorted_checks,
    status_counts,
)
from redline.reports._html import Tile, _environment

if TYPE_CHECKING:
    from redline.reports._card import ModelCard

__all__ = ["card_html"]

_VERDICT_TONES = {"clean": "PASS", "suspicious": "WARN", "trojaned": "FAIL"}


def _evaluation_tiles(card: ModelCard) -> list[Tile]:
    """Clean and worst-case robust accuracy of the latest scan, or a "not scanned" tile."""
    scan = card.scan
    if scan is None:
        return [Tile("Evaluation", "not scanned", ("no scan stored",), "WARN")]
    clean = scan.result.clean.accuracy
    sub = (f"95% CI {fmt_ci(clean)}", f"scan #{scan.id}")
    tiles = [Tile("Clean accuracy", fmt_pct(clean.value), sub, "accent")]
    if scan.evasion and scan.result.eps:
        last = scan.result.eps[-1]
        label = f"Robust · ε = {fmt_eps(last.eps)}"
        sub = (f"95% CI {fmt_ci(last.robust)}", f"n = {last.robust.n:,}")
        tiles.append(Tile(label, fmt_pct(last.robust.value), sub, "neutral"))
    return tiles


def _status_tiles(card: ModelCard) -> list[Tile]:
    """Policy verdict, backdoor verdict, open incidents and the audit chain."""
    policy = card.scan.result.policy if card.scan else None
    if policy is None:
        tiles = [Tile("Policy", "none", ("no policy verdict",), "SKIP")]
    else:
        word = "PASS" if policy.passed else "FAIL"
        failed = sum(not f.passed for f in policy.findings)
        tiles = [Tile("Policy", word, (f"{failed} of {len(policy.findings)} rules failed",), word)]
    section = card.backdoor_scan.result.backdoor if card.backdoor_scan else None
    if section is None:
        tiles.append(Tile("Backdoor", "none", ("no backdoor scan",), "SKIP"))
    else:
        sub = (f"scan #{card.backdoor_scan.id}",) if card.backdoor_scan else ()
        tiles.append(Tile("Backdoor", section.verdict, sub, _VERDICT_TONES[section.verdict]))
    n_open = len(card.open_incidents)
    sub = (f"{len(card.incidents)} in all",)
    tiles.append(Tile("Incidents", f"{n_open} open", sub, "FAIL" if n_open else "PASS"))
    a = card.audit
    word, tone = ("verified", "PASS") if a.ok else ("BROKEN", "FAIL")
    tiles.append(Tile("Audit chain", word, (f"{a.events} events",), tone))
    return tiles


def _context(card: ModelCard) -> dict[str, Any]:
    """Everything the template needs beyond the card itself."""
    scan = card.scan
    return {
        "c": card,
        "v": card.version,
        "scan": scan,
        "r": scan.result if scan else None,
        "alerts": alerts(card),
        "tiles": _evaluation_tiles(card) + _status_tiles(card),
        "checks": sorted_checks(scan.result.checks) if scan else [],
        "counts": status_counts(scan.result.checks) if scan else {},
        "production_line": production_line(card),
        "weights_line": scan_weights_line(card),
        "size": fmt_bytes(card.version.artifact_size),
        "norm": norm_label(scan.result.config.norm) if scan else "",
        "incident_versions": incident_versions,
        "action_label": action_label,
        "disclaimer": DISCLAIMER,
        "not_in_store": NOT_IN_STORE,
        "redline_version": __version__,
    }


def card_html(card: ModelCard) -> str:
    """The card as one self-contained HTML page; every piece of user text is escaped."""
    return _environment().get_template("card.html.j2").render(**_context(card))
