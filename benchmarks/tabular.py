"""Schema-aware tabular attacks: redline's scan vs ART on the same models and budgets.

Run from the repository root: ``python -m benchmarks.tabular [--quick]``. On
breast_cancer (a schema written here: continuous, bounds at the data's range, two
immutable features, budgets of 0.5 std) and redline's generated credit set
(``CREDIT_SCHEMA``: integers, a binary, immutables, a one-hot group, a relation,
increase-only columns), a logistic regression, an MLP (both scikit-learn, skops files),
XGBoost (UBJ), LightGBM (text) and a decision tree (skops) are loaded as ``redline scan``
loads them and attacked at 50% and 100% of the schema's budgets (L-inf in the schema
space). redline runs the suite the CLI picks (tree-greedy, Square, HopSkipJump on trees;
Square, HopSkipJump on score models) through ``scan`` on ``SchemaSpace``, and every point
it returns is re-checked here against the schema in feature units. ART's HopSkipJump
(label-only, L-inf; plain, and with ART's mask holding the immutable features), ZOO
(scores) and, on the decision tree, DecisionTreeAttack see the model in the same space;
their examples count twice: every in-budget fooling one ("raw") and only the schema-valid
ones ("valid"). Target: redline's robust accuracy <= ART's best valid one, and 0 redline
violations.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch

from benchmarks._common import (
    base_parser,
    machine_line,
    prepare_process,
    redline_revision,
    save_results,
    table,
)
from benchmarks._tabular_art import (
    ZOO_CONST,
    ZOO_H,
    ZOO_LR,
    ArtRun,
    ArtSettings,
    art_decision_tree,
    art_hsj,
    art_zoo,
    clip_box,
    judge,
)
from benchmarks._tabular_data import BC_BUDGET_STD, BC_IMMUTABLE, MODELS, Split, datasets
from benchmarks._tabular_data import load_model as load_tabular
from redline.attacks import SchemaSpace

if TYPE_CHECKING:
    from redline.cli._run import ScanRequest
    from redline.datasets import BoundSchema
    from redline.evaluation import Suite
    from redline.targets import Target

__all__ = ["main"]

FRACTIONS = (0.5, 1.0)
"""Fractions of the schema's budgets (eps, L-inf in the schema space)."""


class _Recording(SchemaSpace):
    """A SchemaSpace that keeps every set of points the scan returns (the input of its
    validity check), so the benchmark can judge them itself in feature units."""

    def __init__(self, inner: Target, schema: BoundSchema) -> None:
        super().__init__(inner, schema)
        self.returned: list[tuple[torch.Tensor, torch.Tensor, float]] = []

    def valid(self, x0: torch.Tensor, x: torch.Tensor, eps: float | None = None) -> torch.Tensor:
        self.returned.append((x0.detach().clone(), x.detach().clone(), float(eps or 1.0)))
        return super().valid(x0, x, eps)


@dataclass
class RedlineRun:
    """The scan's robust accuracy per eps, the benchmark's own recount, violations, time."""

    suite: str
    robust: dict[float, float] = field(default_factory=dict)
    recount: dict[float, float] = field(default_factory=dict)
    violating: dict[float, int] = field(default_factory=dict)
    checked: int = 0
    seconds: float = 0.0


@dataclass
class Totals:
    """What the notes under the table need: cells met / missed, points checked."""

    met: int = 0
    missed: list[str] = field(default_factory=list)
    checked: int = 0
    violating: int = 0
    art_queries: dict[str, list[float]] = field(default_factory=dict)


def _cli_suite(space: SchemaSpace, n: int, quick: bool) -> Suite:
    """The suite ``redline scan --suite standard|quick`` picks for this target."""
    from redline.cli._tabular_run import TabularOptions, _suite

    req = SimpleNamespace(suite="quick" if quick else "standard", tabular=TabularOptions())
    suite = _suite(cast("ScanRequest", req), space, n, len(FRACTIONS))
    assert not isinstance(suite, str)
    return suite


def _redline(space: _Recording, z: np.ndarray, y: np.ndarray, quick: bool, seed: int) -> RedlineRun:
    """``scan`` as ``run_tabular_scan`` calls it (sanity checks off: not an attack), then
    every returned point re-judged: schema violations at its eps, and the model's label."""
    from redline.evaluation import scan

    suite = _cli_suite(space, len(y), quick)
    t0 = time.perf_counter()
    result = scan(
        space, z, y, threat="linf", eps=list(FRACTIONS), suite=suite, seed=seed,
        batch_size=len(y), minimal=False, checks=False, examples=0,
    )  # fmt: skip
    run = RedlineRun(suite.description, seconds=time.perf_counter() - t0)
    for point in result.eps:
        run.robust[point.eps] = point.robust.value
    for x0, x, eps in space.returned:  # one batch: one entry per eps
        raw0 = space.from_space(x0).double().cpu().numpy()
        raw = space.from_space(x).double().cpu().numpy()
        run.violating[eps] = int((space.schema.violations(raw0, raw, scale=eps) > 0).sum())
        run.checked += len(raw)
        with torch.no_grad():
            pred = space.inner.predict(torch.as_tensor(raw, dtype=torch.float32)).numpy()
        run.recount[eps] = float((pred == y).mean())
    return run


def _art(
    space: SchemaSpace, model: Any, name: str, z: np.ndarray, correct: np.ndarray,
    settings: ArtSettings,
) -> list[ArtRun]:  # fmt: skip
    """Every ART attack that applies, on the correctly classified samples."""
    clip = clip_box(space, z)
    zc = z[correct]
    runs = [art_hsj(space, zc, clip, settings), art_hsj(space, zc, clip, settings, masked=True)]
    runs.append(art_zoo(space, zc, settings))
    if "decision tree" in name:
        runs.append(art_decision_tree(space, model, zc, clip))
    return runs


def _cell(data: Split, name: str, n: int, args: argparse.Namespace, totals: Totals) -> list[Any]:
    """One model on one set: a row per eps."""
    model, loaded = load_tabular(name, data, args.seed)
    if loaded.classes is not None and list(loaded.classes) != [0, 1]:
        raise AssertionError(f"unexpected classes {loaded.classes}")
    space = _Recording(loaded.target, data.schema)
    x, y = data.x_test[:n], data.y_test[:n]
    z = space.to_space(x).numpy()
    with torch.no_grad():
        correct = space.predict(torch.as_tensor(z)).numpy() == y
    mine = _redline(space, z, y, args.quick, args.seed)
    peers = _art(
        space, model, name, z, correct, ArtSettings(args.hsj_iter, args.zoo_queries, args.seed)
    )
    totals.checked += mine.checked
    for r in peers:
        totals.art_queries.setdefault(r.name, []).append(r.queries)
    return [_row(data, name, float(correct.mean()), eps, mine, peers, space, z, y, correct,
                 totals) for eps in FRACTIONS]  # fmt: skip


def _row(
    data: Split, name: str, clean: float, eps: float, mine: RedlineRun, peers: list[ArtRun],
    space: SchemaSpace, z: np.ndarray, y: np.ndarray, correct: np.ndarray, totals: Totals,
) -> list[str]:  # fmt: skip
    """The table row at one eps, and the totals it adds to."""
    judged = [judge(space, z, y, correct, r, eps) for r in peers]
    best_valid, best_raw = min(j.valid for j in judged), min(j.raw for j in judged)
    ok = mine.robust[eps] <= best_valid + 1e-9 and mine.violating[eps] == 0
    totals.violating += mine.violating[eps]
    if ok:
        totals.met += 1
    else:
        totals.missed.append(
            f"{data.name} / {name} at eps {eps:g}: redline {_pct(mine.robust[eps])} with "
            f"{mine.violating[eps]} violating vs best ART valid {_pct(best_valid)}"
        )
    robust = _pct(mine.robust[eps])
    if abs(mine.recount[eps] - mine.robust[eps]) > 1e-9:
        robust += f" (recount {_pct(mine.recount[eps])})"
    return [
        data.name, name, _pct(clean), f"{eps:g}", robust, str(mine.violating[eps]),
        " / ".join(f"{_pct(j.valid)} ({_pct(j.raw)}, {j.violating})" for j in judged),
        f"{_pct(best_valid)} ({_pct(best_raw)})", "met" if ok else "**missed**",
        f"{mine.seconds:.1f}", " / ".join(f"{r.seconds:.1f}" for r in peers),
        " / ".join(f"{r.seconds / mine.seconds:.2f}" for r in peers),
    ]  # fmt: skip


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%"


HEADERS = [
    "data", "model", "clean", "eps (budget fraction)", "redline robust acc",
    "redline violating", "ART HSJ / HSJ+mask / ZOO [/ DT]: valid (raw, violating)",
    "best ART valid (raw)", "target", "redline s", "ART s", "ART s / redline s",
]  # fmt: skip


def _header(n: int, args: argparse.Namespace) -> str:
    suite = "quick" if args.quick else "standard"
    q = 300 if args.quick else 5000
    return (
        f"{n} test samples per set (seed {args.seed}); eps = fraction of every schema budget, "
        "L-inf in the schema space (each feature divided by its budget, by its range where it "
        f"has none). breast_cancer: 30 continuous features, budgets {BC_BUDGET_STD} std, "
        "bounds the data's min / max widened by 0.1% of the range (exactly the extremes make "
        "tree-greedy refuse a sample at its max: float32 rounding), immutable "
        f"{', '.join(BC_IMMUTABLE)}. credit: `make_credit(2000)` + `CREDIT_SCHEMA`. Models "
        "fitted on the seeded train split, saved (skops / UBJ / LightGBM text) and loaded "
        f"with `load_tabular_model`. redline: `scan` with the suite `redline scan --suite "
        f"{suite}` picks ({q:,} queries per sample, eps and attack; tree-greedy first on "
        "trees), no sanity checks. ART 1.20: HopSkipJump L-inf label-only untargeted "
        f"max_iter {args.hsj_iter} (max_eval 1000, init_eval 100), plain and with `mask` = "
        f"the schema's mutable features; ZOO at most ~{args.zoo_queries:,} queries per "
        f"sample (3 binary-search steps, lr {ZOO_LR}, initial const {ZOO_CONST:g}, h {ZOO_H}, "
        "all coordinates, early abort on, no clip values); DecisionTreeAttack (offset 1e-3) on "
        "the tree; each runs once on the correctly classified samples and is read at both eps."
    )


def _notes(totals: Totals) -> str:
    queries = "; ".join(
        f"{name} {min(q):,.0f}-{max(q):,.0f}" for name, q in totals.art_queries.items() if max(q)
    )
    missed = "; ".join(totals.missed) if totals.missed else "none"
    return (
        "valid: robust accuracy counting only the fooling examples that satisfy the schema at "
        "that eps (the rule that judges redline's: kinds, bounds, immutables, directions, "
        "budgets, one-hot groups, relations); raw: counting every fooling example within "
        "L-inf eps; violating: raw examples that break the schema. target: redline robust "
        f"acc <= best ART valid and 0 redline violations: met in {totals.met} of "
        f"{totals.met + len(totals.missed)} rows; missed: {missed}. redline violations: "
        f"{totals.violating} in {totals.checked:,} returned points re-checked (every point "
        "the scan returned, at its eps, in feature units). ART queries per sample (mean, "
        f"range over models): {queries}. ART's HopSkipJump draws its starting points from "
        "an unseeded `RandomState()` (ART 1.20), so its cells vary by a few points from run to "
        "run; redline and ZOO are seeded. Times in seconds: redline's scan covers both eps "
        "(it attacks per eps), each ART attack runs once; ratio > 1: ART slower."
    )


def main(argv: list[str] | None = None) -> None:
    """Print the table and write it to benchmarks/results/tabular[-quick].md."""
    parser = base_parser("Schema-aware tabular attacks: redline vs ART")
    parser.add_argument("--samples", type=int, default=None, help="test samples per set")
    parser.add_argument("--hsj-iter", type=int, default=None, help="ART HSJ max_iter")
    parser.add_argument("--zoo-queries", type=int, default=None, help="ART ZOO rows per sample")
    args = parser.parse_args(argv)
    prepare_process(args)
    n = args.samples or (30 if args.quick else 100)
    args.hsj_iter = args.hsj_iter or (2 if args.quick else 20)
    args.zoo_queries = args.zoo_queries or (600 if args.quick else 10000)
    rows: list[list[str]] = []
    totals = Totals()
    t0 = time.perf_counter()
    for data in datasets(args.seed):
        for name in MODELS:
            rows.extend(_cell(data, name, n, args, totals))
            print(f"done: {data.name} / {name} ({time.perf_counter() - t0:.0f} s)", flush=True)
    text = "\n".join([
        "## Tabular attacks under a feature schema: redline vs ART", "", _header(n, args), "",
        table(HEADERS, rows), "", _notes(totals), "",
        machine_line(args) + f" {redline_revision()}.",
    ])  # fmt: skip
    print(text)
    save_results(text, None, "tabular", args.quick)


if __name__ == "__main__":
    main()
