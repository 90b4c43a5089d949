"""``redline scan`` on a tabular model: a model file (ONNX, XGBoost, LightGBM, skops,
an allowed pickle, or a torch entry point) or an HTTP endpoint, a CSV with a header, and
a feature schema. The attacks run in the schema's space (each feature scaled by its
budget, every candidate projected onto the schema), so eps 1 is "the schema's budgets"."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from redline.errors import InputError

if TYPE_CHECKING:
    from redline.cli._run import ScanRequest
    from redline.datasets import Dataset
    from redline.evaluation import ModelInfo, ScanResult, Suite
    from redline.targets import Target

__all__ = ["TabularOptions", "is_tabular", "parse_schema_threat", "run_tabular_scan"]

DEFAULT_FRACTIONS = (0.25, 0.5, 1.0)
"""``--threat schema``: these fractions of every feature's budget."""
MIN_QUERIES = {"hop-skip-jump": 50, "square": 20}
"""Fewest queries per sample and eps that leave the attack any chance (budget check)."""
_OVERHEAD = 3
"""Queries per sample and eps beyond the attack's own: clean pass and re-checks."""
EXAMPLES = 8
"""Adversarial examples per eps kept for the report's tabular section."""


@dataclass(frozen=True)
class TabularOptions:
    """The options of ``redline scan`` that only tabular models use."""

    schema: Path | None = None
    endpoint: str | None = None
    query_budget: int | None = None
    endpoint_rate: float | None = None
    token_env: str | None = None
    n_classes: int | None = None
    unconstrained: bool = False


def is_tabular(req: ScanRequest) -> bool:
    """A schema, an endpoint, or a model file in a tabular format."""
    from redline.targets import TABULAR_SUFFIXES

    t = req.tabular
    model = req.model.model
    by_suffix = (
        model is not None
        and req.model.weights is None
        and Path(model).suffix.lower() in TABULAR_SUFFIXES
        and ":" not in Path(model).name
    )
    return t.schema is not None or t.endpoint is not None or by_suffix


def parse_schema_threat(text: str) -> tuple[float, ...]:
    """``schema`` or ``schema:0.5,1``: fractions of the schema's budgets (L-inf there)."""
    from redline.evaluation._threat import parse_eps

    head, sep, rest = text.strip().lower().partition(":")
    if head != "schema":
        raise InputError(
            f"a tabular model is attacked under its feature schema: use --threat schema "
            f"(or schema:0.5,1 for fractions of the budgets), got {text!r}"
        )
    if not sep:
        return DEFAULT_FRACTIONS
    values = sorted({parse_eps(part) for part in rest.split(",") if part.strip()})
    if not values or max(values) > 1:
        raise InputError(f"--threat {text!r}: fractions of the budgets must be in (0, 1]")
    return tuple(values)


def run_tabular_scan(req: ScanRequest) -> ScanResult:
    """Check everything cheap, load model, data and schema, scan, judge and write."""
    from redline.attacks import SchemaSpace
    from redline.cli._run import judge_and_write
    from redline.cli._scan_shift import check_shift_data, parse_corruptions, run_shift
    from redline.datasets import FeatureSchema, bind_schema, load_data
    from redline.evaluation import scan
    from redline.evaluation._shift_tabular import TabularColumns, shift_queries
    from redline.policy import load_policy
    from redline.reports._bundle import check_output_dir
    from redline.targets import HttpTarget

    fractions = parse_schema_threat(req.threat)
    shift = None if req.corruptions is None else parse_corruptions(req.corruptions)
    policy = load_policy(req.policy) if req.policy is not None else None
    check_output_dir(req.out)
    _check_options(req)
    if req.limit is not None and req.limit < 1:
        raise InputError(f"--limit must be >= 1, got {req.limit}")
    assert req.tabular.schema is not None
    schema = FeatureSchema.load(req.tabular.schema)
    full = load_data(req.data, label_column=req.label_column, group_column=req.group_column)
    if full.feature_names is None or full.x.ndim != 2:
        raise InputError(f"{full.source}: a tabular scan needs a CSV file with a header row")
    bound = bind_schema(schema, full.feature_names, full.x)  # std budgets from all rows
    data = full.take(req.limit)
    if shift is not None:
        check_shift_data(shift, data.x.shape, tabular=True)
    target, info, classes = _target(req, data)
    y = _labels(data, classes)
    space = SchemaSpace(target, bound)
    reserved = 0 if shift is None else shift_queries(len(y), TabularColumns.of(bound, 0))
    suite = _suite(req, space, len(y), len(fractions), reserved)
    result = scan(
        space,
        space.to_space(data.x).cpu().numpy(),
        y,
        threat="linf",
        eps=list(fractions),
        suite=suite,
        groups=data.groups,
        class_names=data.class_names,
        seed=req.seed,
        batch_size=req.batch_size,
        minimal=False,  # FMN's own projection knows no schema: no minimal-norm stage here
        checks=req.checks and req.tabular.endpoint is None,
        check_samples=req.check_samples,
        data_source=data.source,
        progress=req.progress,
        model=info,
        examples=EXAMPLES,
    )
    from redline.cli._tabular_section import tabular_section

    threat = "fractions " + ", ".join(f"{f:g}" for f in fractions) + " of the schema's budgets"
    section = tabular_section(space, result.examples, info.format or "unknown", threat)
    if req.tabular.unconstrained:
        section = section.model_copy(
            update={"unconstrained": _relaxed(req, space, data, y, fractions)}
        )
    result = result.model_copy(update={"tabular": section, "examples": []})
    if shift is not None:
        found = run_shift(shift, target, data, y, req.seed, schema=bound, reference=full.x)
        result = result.model_copy(update={"natural_shift": found})
    if isinstance(target, HttpTarget):  # the shifts' rows count too
        tab = result.tabular.model_copy(update={"queries": target.queries})  # type: ignore[union-attr]
        result = result.model_copy(update={"tabular": tab})
    return judge_and_write(result, policy, req.out)


def _relaxed(
    req: ScanRequest,
    space: Any,
    data: Dataset,
    y: npt.NDArray[np.int64],
    fractions: tuple[float, ...],
) -> Any:
    """The unconstrained comparison (``--unconstrained``): the same attacks, budgets only."""
    from redline.attacks import SchemaSpace
    from redline.cli._tabular_relaxed import relaxed_schema, unconstrained_points
    from redline.evaluation import get_suite

    relaxed = SchemaSpace(space.inner, relaxed_schema(space.schema))
    suite = _suite(req, relaxed, len(y), len(fractions))
    chosen = get_suite(suite) if isinstance(suite, str) else suite
    z = space.to_space(data.x).cpu().numpy()
    return unconstrained_points(space, relaxed, z, y, chosen, fractions, req.seed)


def _check_options(req: ScanRequest) -> None:
    t = req.tabular
    if t.schema is None:
        raise InputError("a tabular scan needs --schema (a feature schema, see docs/tabular.md)")
    if req.backdoor or req.certify is not None or req.registry is not None:
        raise InputError("--backdoor, --certify and --registry are for image models")
    if t.endpoint is not None:
        if req.model.model is not None or req.model.weights is not None:
            raise InputError("give either --endpoint or --model, not both")
        if t.query_budget is None:
            raise InputError("--endpoint needs --query-budget (the queries you may send)")
        if t.unconstrained:
            raise InputError("--unconstrained runs every attack twice: not against --endpoint")
    elif t.query_budget is not None:
        raise InputError("--query-budget is for --endpoint")


def _target(req: ScanRequest, data: Dataset) -> tuple[Target, ModelInfo, tuple[Any, ...] | None]:
    from redline.evaluation import ModelInfo
    from redline.targets import HttpTarget, TorchTarget, load_tabular_model

    t = req.tabular
    if t.endpoint is not None:
        assert t.query_budget is not None
        headers = {}
        if t.token_env:
            token = os.environ.get(t.token_env)
            if not token:
                raise InputError(f"--token-env {t.token_env}: that variable is not set")
            headers["Authorization"] = f"Bearer {token}"
        http = HttpTarget(
            t.endpoint, budget=t.query_budget, rate=t.endpoint_rate, n_classes=t.n_classes,
            headers=headers,
        )  # fmt: skip
        http.probe(data.x[0])
        return http, ModelInfo(source=t.endpoint, format="http endpoint", sha256=""), None
    model = req.model
    if model.weights is not None or model.members:
        from redline.targets import load_model

        loaded = load_model(
            model.model, model.weights, allow_pickle=model.allow_pickle, device=model.device
        )
        inf = (-float("inf"), float("inf"))
        info = ModelInfo(source=loaded.source, format=loaded.format, sha256=loaded.sha256)
        return TorchTarget(loaded.module, bounds=inf), info, None
    assert model.model is not None
    found = load_tabular_model(model.model, allow_pickle=model.allow_pickle)
    info = ModelInfo(source=model.model, format=found.kind, sha256=found.sha256)
    return found.target, info, found.classes


def _labels(data: Dataset, classes: tuple[Any, ...] | None) -> npt.NDArray[np.int64]:
    """The data's labels as the model's output columns (its own class labels if known)."""
    if classes is None:
        return data.y
    from redline.targets._sklearn import class_index

    if data.class_names is not None:
        return class_index(np.asarray(classes, dtype=object), [data.class_names[i] for i in data.y])
    return class_index(np.asarray(classes), data.y)


def _suite(req: ScanRequest, target: Target, n: int, n_eps: int, reserved: int = 0) -> str | Suite:
    """The user's suite, or the strongest the target allows: gradients (the standard
    AutoAttack suite), scores (Square, then HopSkipJump: under a schema's discrete
    features Square alone left 10 points of robust accuracy on the table), labels only
    (HopSkipJump). An endpoint's budget is split over samples, eps and attacks, and
    refused when too small; ``reserved`` rows of it go to the natural-shift stage."""
    from redline.attacks._registry import attack_factory
    from redline.evaluation._suite import Suite

    user = req.suite.strip().lower()
    if user not in ("standard", "quick"):
        return req.suite
    if target.differentiable:
        return user
    names = ["hop-skip-jump"] if target.label_only else ["square", "hop-skip-jump"]
    trees = getattr(target, "ensemble", None) is not None and req.tabular.endpoint is None
    queries = 5000 if user == "standard" else 300
    budget = req.tabular.query_budget
    if budget is not None:
        budget -= reserved
        queries = min(queries, budget // max(1, n * n_eps * len(names)) - _OVERHEAD)
        least = max(MIN_QUERIES[name] for name in names)
        if queries < least:
            need = (least + _OVERHEAD) * n * n_eps * len(names)
            raise InputError(
                f"--query-budget {req.tabular.query_budget} is below what the attacks need: "
                f"{', '.join(names)} on {n} samples at {n_eps} eps need at least {need}"
                + (f" beside the {reserved} rows of --corruptions" if reserved else "")
                + " (or use --limit)"
            )
    factories = tuple(attack_factory(name, queries=queries) for name in names)
    text = f"{', '.join(names)} ({queries} queries per sample and eps each)"
    if trees:  # white box on the splits: the greedy cell search first
        limits = target.tree_limits()  # type: ignore[attr-defined]
        restarts = 5 if user == "standard" else 1
        factories = (attack_factory("tree-greedy", restarts=restarts, **limits), *factories)
        names, text = ["tree-greedy", *names], f"tree-greedy ({restarts} restarts), {text}"
    return Suite(",".join(names), text, factories)
