"""The tabular section in Markdown (the HTML part is templates/_tabular.html.j2)."""

from __future__ import annotations

from redline.results import TabularSection

__all__ = ["tabular_markdown"]


def tabular_markdown(section: TabularSection) -> list[str]:
    """The schema's rules and a few examples as changed features, in their own units."""
    s = section.schema_info
    lines = [
        f"**Feature schema** `{s.source}` ({s.columns} columns), {section.model_kind} model, "
        f"attacked at {section.threat}; every returned example checked against the schema.",
        "",
        f"* immutable: {', '.join(s.immutable) or '—'}",
        f"* increase only: {', '.join(s.increase_only) or '—'}; decrease only: "
        f"{', '.join(s.decrease_only) or '—'}",
        f"* relations: {'; '.join(s.relations) or '—'}",
    ]
    if section.query_budget:
        lines.append(f"* endpoint rows sent: {section.queries} of {section.query_budget}")
    if section.unconstrained:
        lines += [
            "",
            "| eps | unconstrained robust accuracy | its examples that break the schema |",
        ]
        lines.append("|---|---|---|")
        for p in section.unconstrained:
            lines.append(f"| {p.eps:g} | {p.robust.value:.1%} | {p.invalid} of {p.broken} |")
    if section.examples:
        lines += [
            "",
            "| sample | eps | attack | prediction | changed features |",
            "|---|---|---|---|---|",
        ]
        for e in section.examples:
            changes = "; ".join(
                f"{c.feature} {c.clean:.6g} → {c.adversarial:.6g}" for c in e.changes
            )
            pred = f"{e.clean_pred} → {e.adv_pred}"
            lines.append(f"| {e.index} | {e.eps:g} | {e.attack} | {pred} | {changes} |")
    return lines
