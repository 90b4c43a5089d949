"""``redline scan`` on tabular models: a scikit-learn GBT (skops), an XGBoost booster
(UBJ) and a logistic regression (ONNX) on the generated credit set with its schema,
and a black-box endpoint on loopback. Every returned example must satisfy the schema,
robust accuracy must fall as the budget grows, and bad input exits 2 with one line."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from tests.targets._endpoint import Endpoint, serve

from redline.cli.main import run
from redline.datasets import CREDIT_COLUMNS, CREDIT_SCHEMA, make_credit

N = 40


def _write_csv(path: Path, x: np.ndarray, y: np.ndarray, columns: tuple[str, ...]) -> None:
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow([*columns, "default"])
        for row, label in zip(x, y, strict=True):
            out.writerow([repr(float(v)) for v in row] + [int(label)])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import skops.io as sio
    import xgboost as xgb
    from skl2onnx import to_onnx
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    root = tmp_path_factory.mktemp("tabular")
    x, y = make_credit(1500, seed=0)
    xt, yt = make_credit(N, seed=1)
    _write_csv(root / "test.csv", xt, yt, CREDIT_COLUMNS)
    (root / "credit.schema.toml").write_text(CREDIT_SCHEMA)
    gbt = GradientBoostingClassifier(n_estimators=15, max_depth=3, random_state=0).fit(x, y)
    sio.dump(gbt, root / "gbt.skops")
    booster = xgb.XGBClassifier(n_estimators=15, max_depth=3, random_state=0).fit(x, y)
    booster.save_model(root / "xgb.ubj")
    linear = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(x, y)
    proto = to_onnx(linear, x[:1], options={"zipmap": False}, target_opset=17)
    (root / "lr.onnx").write_bytes(proto.SerializeToString())
    return {"root": root, "csv": root / "test.csv", "schema": root / "credit.schema.toml",
            "gbt": root / "gbt.skops", "xgb": root / "xgb.ubj", "lr": root / "lr.onnx",
            "linear": linear}  # type: ignore[dict-item]  # fmt: skip


def _scan(files: dict[str, Path], out: Path, *extra: str) -> int:
    args = ["scan", "--data", str(files["csv"]), "--label-column", "default"]
    args += ["--schema", str(files["schema"]), "--threat", "schema", "--suite", "quick"]
    return run([*args, "--out", str(out), "--no-progress", "--check-samples", "20", *extra])


@pytest.mark.parametrize("model", ["gbt", "xgb", "lr"])
def test_scan_a_tabular_model_under_its_schema(
    files: dict[str, Path], tmp_path: Path, model: str
) -> None:
    out = tmp_path / model
    assert _scan(files, out, "--model", str(files[model])) == 0
    result = json.loads((out / "scan.json").read_text())
    validity = next(c for c in result["checks"] if c["id"] == "validity")
    assert validity["status"] == "PASS" and validity["evidence"]["violations"] == 0
    assert validity["evidence"]["checked"] == 3 * N  # every example at every eps was checked
    acc = [e["robust"]["value"] for e in result["eps"]]
    clean = result["clean"]["accuracy"]["value"]
    assert clean >= acc[0] >= acc[-1] and acc[-1] < clean  # the budget buys the attacker something
    assert [e["eps"] for e in result["eps"]] == [0.25, 0.5, 1.0]
    assert "credit.schema.toml" in (out / "report.html").read_text()


@pytest.fixture
def endpoint(files: dict[str, Path]) -> Iterator[Endpoint]:
    with serve(files["linear"]) as ep:  # type: ignore[arg-type]
        yield ep


def test_scan_a_black_box_endpoint_within_its_budget(
    files: dict[str, Path], tmp_path: Path, endpoint: Endpoint
) -> None:
    out = tmp_path / "endpoint"
    code = _scan(files, out, "--endpoint", endpoint.url, "--query-budget", "20000", "--limit", "20")
    assert code == 0
    result = json.loads((out / "scan.json").read_text())
    assert endpoint.rows <= 20000  # every row the endpoint saw was counted against the budget
    assert result["eps"][-1]["robust"]["value"] <= result["clean"]["accuracy"]["value"]


def test_natural_shift_of_an_endpoint_counts_its_rows(
    files: dict[str, Path], tmp_path: Path, endpoint: Endpoint
) -> None:
    out = tmp_path / "endpoint"
    extra = ["--endpoint", endpoint.url, "--query-budget", "20000", "--limit", "20"]
    assert _scan(files, out, *extra, "--corruptions", "all") == 0
    result = json.loads((out / "scan.json").read_text())
    assert result["tabular"]["queries"] == endpoint.rows <= 20000  # attacks and shifts, all
    missing = result["natural_shift"]["rows"][1]
    assert "JSON, which has no NaN" in missing["note"]  # an endpoint gets imputed rows


def _bad_cases(files: dict[str, Path], tmp: Path) -> dict[str, tuple[list[str], str]]:
    x, y = make_credit(10, seed=3)
    shifted = tmp / "renamed.csv"
    _write_csv(shifted, x, y, (*CREDIT_COLUMNS[:-1], "postcode"))
    region = tmp / "region.csv"
    bad = x.copy()
    bad[2, CREDIT_COLUMNS.index("region")] = 9
    _write_csv(region, bad, y, CREDIT_COLUMNS)
    contradictory = tmp / "contradictory.toml"
    contradictory.write_text(
        CREDIT_SCHEMA + "\n[[relations]]\ntarget = 'total_debt'\nterms = { income = 1.0 }\n"
    )
    (tmp / "evil.pkl").write_bytes(b"\x80\x04K\x01.")
    (tmp / "model.bin").write_bytes(b"\x00")
    model = ["--model", str(files["lr"])]
    return {
        "columns": ([*model, "--data-override", str(shifted)], "does not match the data's columns"),
        "category": ([*model, "--data-override", str(region)], "not one of the declared values"),
        "relations": ([*model, "--schema-override", str(contradictory)], "target of two relations"),
        "pickle": (["--model", str(tmp / "evil.pkl")], "--allow-pickle"),
        "format": (["--model", str(tmp / "model.bin")], "unknown model format"),
        "threat": ([*model, "--threat-override", "linf:0.1"], "--threat schema"),
        "dead endpoint": (
            ["--endpoint", "http://127.0.0.1:9/p", "--query-budget", "100"],
            "not reachable",
        ),
        "budget": (
            ["--endpoint", "ENDPOINT", "--query-budget", "50"],
            "below what the attacks need",
        ),
        "shift names": ([*model, "--corruptions", "gaussian_noise"], "use --corruptions all"),
        "shift budget": (
            ["--endpoint", "ENDPOINT", "--query-budget", "2500", "--corruptions", "all"],
            "beside the 1760 rows of --corruptions",
        ),
        "twice": (
            ["--endpoint", "ENDPOINT", "--query-budget", "9000", "--unconstrained"],
            "not against --endpoint",
        ),
    }


def test_every_bad_input_exits_2_with_one_line_and_writes_nothing(
    files: dict[str, Path], tmp_path: Path, endpoint: Endpoint, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, (extra, message) in _bad_cases(files, tmp_path).items():
        out = tmp_path / f"out-{name.replace(' ', '-')}"
        data, schema, threat = str(files["csv"]), str(files["schema"]), "schema"
        rest: list[str] = []
        it = iter(extra)
        for arg in it:
            if arg == "--data-override":
                data = next(it)
            elif arg == "--schema-override":
                schema = next(it)
            elif arg == "--threat-override":
                threat = next(it)
            else:
                rest.append(endpoint.url if arg == "ENDPOINT" else arg)
        args = ["scan", "--data", data, "--label-column", "default", "--schema", schema]
        args += ["--threat", threat, "--out", str(out), "--no-progress", *rest]
        capsys.readouterr()
        assert run(args) == 2, name
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, (name, err)
        assert not out.exists(), name


@pytest.mark.browser
def test_the_tabular_report_in_a_real_browser(files: dict[str, Path], tmp_path: Path) -> None:
    from tests.reports.test_report_browser import FLAGS, _chromium, _run

    out = tmp_path / "xgb"
    assert _scan(files, out, "--model", str(files["xgb"]), "--corruptions", "all") == 0
    result = json.loads((out / "scan.json").read_text())
    section, shift = result["tabular"], result["natural_shift"]
    assert [r["name"] for r in shift["rows"]] == [
        "gaussian_noise", "missing_values", "quantile_shift",
    ]  # fmt: skip
    assert shift["rows"][1]["note"] is None  # XGBoost routes NaN itself: no imputer
    assert {f["feature"] for f in shift["features"]} >= {"income", "age", "region"}
    assert section["model_kind"] == "xgboost" and section["examples"]
    immutable = set(section["schema_info"]["immutable"])
    assert immutable == {"age", "region"}
    for ex in section["examples"]:
        changed = {c["feature"] for c in ex["changes"]}
        assert changed and not changed & immutable and ex["adv_pred"] != ex["label"]
    chromium = _chromium()
    page = (out / "report.html").as_uri()
    base = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,3000"]
    dom = _run([*base, "--dump-dom", page])
    assert 'id="tabular"' in dom and "total_debt = card_debt + loan_debt" in dom
    assert dom.count("<tr>") > 10 and "changed features" in dom
    assert 'id="natural-shift"' in dom and dom.count('class="num heat-cell"') == 15
    assert "Features whose shift hurts most" in dom


def test_unconstrained_attacks_look_stronger_and_break_the_schema(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "both"
    assert _scan(files, out, "--model", str(files["lr"]), "--unconstrained") == 0
    result = json.loads((out / "scan.json").read_text())
    points = result["tabular"]["unconstrained"]
    assert [p["eps"] for p in points] == [0.25, 0.5, 1.0]
    constrained = [e["robust"]["value"] for e in result["eps"]]
    free = [p["robust"]["value"] for p in points]
    # measured (credit LR, 40 rows): 60 / 22.5 / 7.5% unconstrained vs 72.5 / 57.5 / 27.5%
    # under the schema, and every one of the 27 unconstrained examples broke the schema
    assert free[-1] <= constrained[-1] and sum(free) < sum(constrained)
    assert points[-1]["invalid"] > 0  # an attack that ignores the schema proposes impossible rows
    assert points[-1]["invalid"] <= points[-1]["broken"]
    assert "Constrained vs unconstrained" in (out / "report.html").read_text()
