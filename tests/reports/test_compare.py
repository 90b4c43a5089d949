"""The scan comparison: deltas, noise wording, the gradient-masking warning, refusals,
both renderers, and ``redline report compare`` on JSON files and on a registry."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from tests.registry._helpers import judged

from redline.cli import main as cli_main
from redline.errors import InputError
from redline.evaluation import ScanResult
from redline.registry import open_store, record_scan, register
from redline.reports import (
    Comparison,
    VersionMeta,
    compare_html,
    compare_markdown,
    compare_results,
)
from redline.results import (
    Accuracy,
    Interval,
    PolicyFinding,
    PolicyVerdict,
)


def wilson(correct: int, n: int) -> Accuracy:
    """An accuracy with its Wilson 95% interval, computed independently of redline."""
    z, p = 1.959963984540054, correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Accuracy(
        value=p, n=n, correct=correct, ci=Interval(low=centre - half, high=centre + half)
    )


def with_robust(result: ScanResult, correct: dict[float, int]) -> ScanResult:
    """``result`` with robust accuracy at the given eps replaced by ``correct`` of n."""
    eps = [
        e.model_copy(update={"robust": wilson(correct[e.eps], e.robust.n)})
        if e.eps in correct
        else e
        for e in result.eps
    ]
    return result.model_copy(update={"eps": eps})


def with_checks(result: ScanResult, statuses: dict[str, str]) -> ScanResult:
    checks = [
        c.model_copy(update={"status": statuses[c.id], "summary": f"now {statuses[c.id]}"})
        if c.id in statuses
        else c
        for c in result.checks
    ]
    return result.model_copy(update={"checks": checks})


def _correct(result: ScanResult, eps: float) -> int:
    return result.at(eps).robust.correct


@pytest.fixture(scope="module")
def other_grid(digits_cnn) -> ScanResult:  # type: ignore[no-untyped-def]
    """The same model on the same 80 samples, scanned on another eps grid."""
    from redline.evaluation import scan

    return scan(
        digits_cnn.target, digits_cnn.x[:80], digits_cnn.y[:80], threat="linf",
        eps=[0.1, 0.2, 0.3], suite="quick", class_names=digits_cnn.test.class_names,
        check_samples=40, data_source="bundled:digits[test]",
    )  # fmt: skip


@pytest.fixture
def hardened(digits_scan: ScanResult) -> ScanResult:
    """A made-up hardened model: robust accuracy far up at 0.1 and 0.2, a bit at 0.05."""
    up = {
        0.05: _correct(digits_scan, 0.05) + 2,
        0.1: min(80, _correct(digits_scan, 0.1) + 30),
        0.2: min(80, _correct(digits_scan, 0.2) + 30),
    }
    return with_robust(digits_scan, up)


def test_real_scans_on_two_grids_are_matched_per_eps(
    digits_scan: ScanResult, other_grid: ScanResult
) -> None:
    c = compare_results(digits_scan, other_grid, labels=("grid 1", "grid 2"))
    assert [e.eps for e in c.eps] == [0.1, 0.2]
    assert c.only_a == (0.05,) and c.only_b == (0.3,)
    assert c.headline is not None and c.headline.eps == 0.2
    for e in c.eps:
        ra, rb = digits_scan.at(e.eps).robust, other_grid.at(e.eps).robust
        assert e.robust.delta == pytest.approx(rb.value - ra.value)
        disjoint = ra.ci.high < rb.ci.low or rb.ci.high < ra.ci.low
        assert e.robust.overlap is not disjoint
    assert c.clean.verdict == "unchanged" and c.clean.delta == 0
    assert len(c.per_class) == 10
    assert {x.label for x in c.per_class} == {g.name for g in digits_scan.clean.per_class}
    md = compare_markdown(c)
    assert "ε only in `grid 1`: 0.05" in md and "ε only in `grid 2`: 0.3" in md


def test_deltas_are_points_and_only_disjoint_intervals_are_better(
    digits_scan: ScanResult, hardened: ScanResult
) -> None:
    c = compare_results(digits_scan, hardened)
    by_eps = {e.eps: e.robust for e in c.eps}
    for eps, change in by_eps.items():
        expected = hardened.at(eps).robust.value - digits_scan.at(eps).robust.value
        assert change.delta == pytest.approx(expected)
    assert by_eps[0.05].overlap and by_eps[0.05].verdict == "within noise"
    assert not by_eps[0.2].overlap and by_eps[0.2].verdict == "better"
    assert c.notices == ()  # same data, same suite, every check passes
    md = compare_markdown(c)
    delta = by_eps[0.2].delta
    assert delta is not None and f"+{100 * delta:.1f} pts" in md
    row_005 = next(line for line in md.splitlines() if "robust L∞ ε = 0.05" in line)
    assert "within noise" in row_005 and "better" not in row_005
    assert "better: the 95% intervals do not overlap" in md


def test_a_drop_is_worse_and_ece_is_only_higher_or_lower(digits_scan: ScanResult) -> None:
    worse = with_robust(digits_scan, {0.05: 5})
    worse = worse.model_copy(
        update={"clean": worse.clean.model_copy(update={"ece": digits_scan.clean.ece + 0.05})}
    )
    c = compare_results(digits_scan, worse)
    assert c.eps[0].robust.verdict == "worse"
    assert c.ece.delta == pytest.approx(0.05) and c.ece.verdict == "higher"
    assert "+0.050" in compare_markdown(c)


def test_a_check_that_regresses_is_a_warning_on_top_not_a_gain(
    digits_scan: ScanResult, hardened: ScanResult
) -> None:
    masked = with_checks(hardened, {"black-box-gap": "FAIL", "noise": "WARN"})
    c = compare_results(digits_scan, masked, labels=("base", "hardened"))
    assert {r.id for r in c.regressions} == {"black-box-gap", "noise"}
    assert c.notices[0].level == "FAIL" and "gradient masking" in c.notices[0].text
    assert c.headline is not None and c.headline.robust.verdict == "unverified"
    md = compare_markdown(c)
    lines = md.splitlines()
    caution = lines.index("> [!CAUTION]")
    table = next(i for i, line in enumerate(lines) if line.startswith("| "))
    assert caution < table
    assert "fails sanity checks that base passed" in md
    assert "✅ better" not in md and "unverified" in md
    html = compare_html(c)
    assert html.index('class="alert FAIL"') < html.index('class="tiles"')
    assert html.count('<tr class="regressed">') == 2


def test_different_norms_are_refused(digits_scan: ScanResult) -> None:
    l2 = digits_scan.model_copy(
        update={"config": digits_scan.config.model_copy(update={"norm": "l2"})}
    )
    with pytest.raises(InputError, match="different threat models"):
        compare_results(digits_scan, l2)


def test_different_data_is_refused_unless_allowed(digits_scan: ScanResult) -> None:
    data = digits_scan.data.model_copy(update={"sha256": "ab" * 32, "source": "other.npz"})
    other = digits_scan.model_copy(update={"data": data})
    with pytest.raises(InputError, match="--allow-different-data"):
        compare_results(digits_scan, other)
    c = compare_results(digits_scan, other, allow_different_data=True)
    assert c.notices[0].level == "WARN" and "different data" in c.notices[0].title
    assert "> [!WARNING]\n> **The scans ran on different data.**" in compare_markdown(c)
    assert "The scans ran on different data." in compare_html(c)


def test_labels_must_differ(digits_scan: ScanResult) -> None:
    with pytest.raises(InputError, match="labels"):
        compare_results(digits_scan, digits_scan, labels=("x", "x"))


def _comparison(digits_scan: ScanResult, hardened: ScanResult) -> Comparison:
    finding = PolicyFinding(rule="min_robust@0.2", passed=False, message="too low")
    fail = PolicyVerdict(source="redline.toml", passed=False, findings=[finding])
    ok = fail.model_copy(
        update={"passed": True, "findings": [finding.model_copy(update={"passed": True})]}
    )
    training = {"method": "pgd-at", "eps": 0.1, "epochs_run": 12, "seconds": 93.25, "stopped": None}
    return compare_results(
        digits_scan.model_copy(update={"policy": fail}),
        hardened.model_copy(update={"policy": ok}),
        labels=("digits@1", "digits@2"),
        meta_a=VersionMeta("digits@1"),
        meta_b=VersionMeta("digits@2", parent="digits@1", training=training),
    )


def test_both_renderers_carry_the_key_numbers(
    digits_scan: ScanResult, hardened: ScanResult
) -> None:
    c = _comparison(digits_scan, hardened)
    md, html = compare_markdown(c), compare_html(c)
    a, b = digits_scan.at(0.2).robust.value, hardened.at(0.2).robust.value
    for text in (md, html):
        assert f"{100 * a:.1f}%" in text and f"{100 * b:.1f}%" in text
        assert f"+{100 * (b - a):.1f} pts" in text
        assert f"{100 * digits_scan.clean.accuracy.value:.1f}%" in text
        assert "digits@2 was derived from digits@1 by pgd-at training." in text
        assert "93.25" in text  # training wall time, from the registry
        assert "min_robust@0.2" in text
    assert "| training wall time | — | 93.2 s |" in md
    assert "| policy | FAIL | PASS |" in md
    assert md.index("Robust accuracy per class at ε = 0.2") > md.index("| clean accuracy")
    headline = compare_markdown(c, headline_only=True)
    assert "<details>" not in headline and "| clean accuracy" in headline
    assert "<svg" in html and 'aria-label="Robust accuracy against perturbation budget' in html
    assert "<script" not in html and "http" not in html.split("<body>")[1]


def test_user_text_is_escaped(digits_scan: ScanResult, hardened: ScanResult) -> None:
    evil = "<script>alert(1)</script>"
    data = digits_scan.data.model_copy(update={"source": evil})
    c = compare_results(
        digits_scan.model_copy(update={"data": data}),
        hardened.model_copy(update={"data": data}),
        labels=(evil, "b|`x`"),
    )
    html = compare_html(c)
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    md = compare_markdown(c)
    assert "`b\\|'x'`" in md
    assert not re.search(r"(?<!`)<script>", md.replace(f"`{evil}`", ""))


@pytest.fixture
def cli():  # type: ignore[no-untyped-def]
    """``redline.cli.main.run`` (``report`` is a group: rebuild by default, compare)."""
    return cli_main.run


def test_cli_compares_json_files(  # type: ignore[no-untyped-def]
    cli, digits_scan: ScanResult, hardened: ScanResult, tmp_path: Path, capsys
) -> None:
    a, b = tmp_path / "base.json", tmp_path / "hard.json"
    digits_scan.to_json(a)
    hardened.to_json(b)
    assert cli(["report", "compare", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### redline compare: `base.json` → `hard.json`")
    assert "<details>" not in out
    assert cli(["report", "compare", str(a), str(b), "--out", str(tmp_path / "c.html")]) == 0
    assert "hard.json" in (tmp_path / "c.html").read_text()
    assert cli(["report", "compare", str(a), str(b), "--out", str(tmp_path / "c.md")]) == 0
    assert "<details>" in (tmp_path / "c.md").read_text()
    assert cli(["report", str(a), "--out", str(tmp_path / "rebuilt")]) == 0  # default command
    assert (tmp_path / "rebuilt" / "report.html").is_file()


def test_cli_bad_input_exits_2_and_writes_nothing(  # type: ignore[no-untyped-def]
    cli, digits_scan: ScanResult, tmp_path: Path, capsys
) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    digits_scan.to_json(a)
    data = digits_scan.data.model_copy(update={"sha256": "cd" * 32})
    digits_scan.model_copy(update={"data": data}).to_json(b)
    capsys.readouterr()
    out = tmp_path / "c.html"
    cases = [
        [str(a), str(b), "--out", str(out)],  # different data
        [str(a), str(a), "--out", str(tmp_path / "c.txt")],  # unknown format
        [str(a), str(tmp_path / "missing.json"), "--out", str(out)],
    ]
    for args in cases:
        assert cli(["report", "compare", *args]) == 2
        err = capsys.readouterr().err
        assert err.startswith("redline: error: ") and err.count("\n") == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json"]
    assert (
        cli(["report", "compare", str(a), str(b), "--allow-different-data", "--out", str(out)]) == 0
    )
    assert "different data" in capsys.readouterr().err and out.is_file()


def test_cli_compares_registry_versions(  # type: ignore[no-untyped-def]
    cli, digits_scan: ScanResult, hardened: ScanResult, tmp_path: Path, capsys
) -> None:
    url = f"sqlite:///{tmp_path}/r.db"
    store = open_store(url)
    try:
        for i in (1, 2):
            (tmp_path / f"w{i}.pt").write_bytes(f"weights {i}".encode())
        register(store, "digits", tmp_path / "w1.pt", actor="ana")
        training = {
            "method": "trades",
            "eps": 0.1,
            "epochs_run": 3,
            "seconds": 41.5,
            "stopped": None,
        }
        register(
            store,
            "digits",
            tmp_path / "w2.pt",
            actor="ana",
            parent="digits@1",
            training_config=training,
        )
        register(store, "digits", tmp_path / "w1.pt", actor="ana")  # @3: never scanned
        record_scan(store, "digits@1", judged(digits_scan, True), actor="ci")
        record_scan(store, "digits@2", judged(hardened, True), actor="ci")
    finally:
        store.engine.dispose()
    md = tmp_path / "c.md"
    assert cli(["report", "compare", "digits@1", "digits@2", "--store", url, "--out", str(md)]) == 0
    text = md.read_text()
    assert "### redline compare: `digits@1` → `digits@2`" in text
    assert "digits@2 was derived from digits@1 by trades training." in text
    assert "| training wall time | — | 41.5 s |" in text
    capsys.readouterr()
    assert cli(["report", "compare", "digits@1", "digits@3", "--store", url]) == 2
    assert "digits@3 has no stored scan" in capsys.readouterr().err


def test_cli_fail_on_gates_only_on_changes_that_clear_the_noise(  # type: ignore[no-untyped-def]
    cli, digits_scan: ScanResult, hardened: ScanResult, tmp_path: Path, capsys
) -> None:
    base, hard = tmp_path / "base.json", tmp_path / "hard.json"
    digits_scan.to_json(base)
    hardened.to_json(hard)
    masked = tmp_path / "masked.json"
    with_checks(hardened, {"black-box-gap": "FAIL", "noise": "WARN"}).to_json(masked)
    gates = ["--fail-on", "checks", "--fail-on", "robust", "--fail-on", "clean"]
    capsys.readouterr()
    assert cli(["report", "compare", str(base), str(hard), *gates]) == 0  # better, not worse
    assert "regression:" not in capsys.readouterr().err
    assert cli(["report", "compare", str(base), str(base), *gates]) == 0  # unchanged
    assert cli(["report", "compare", str(hard), str(base), *gates]) == 1  # robust dropped
    err = capsys.readouterr().err
    assert "regression: robust accuracy at eps 0.2" in err
    assert "at eps 0.05" not in err  # within noise: never a regression
    assert cli(["report", "compare", str(hard), str(base), "--fail-on", "clean"]) == 0
    assert cli(["report", "compare", str(base), str(masked), "--fail-on", "checks"]) == 1
    err = capsys.readouterr().err
    assert "black-box-gap (PASS -> FAIL)" in err and "noise (PASS -> WARN)" in err
    assert cli(["report", "compare", str(base), str(masked)]) == 0  # no gate, no failure
    out = tmp_path / "c.md"
    bad = ["report", "compare", str(base), str(hard), "--fail-on", "speed", "--out", str(out)]
    assert cli(bad) == 2
    assert "--fail-on speed: unknown gate" in capsys.readouterr().err and not out.exists()


def _section(certified_at: list[float], n: int = 80, sigma: float = 0.25):  # type: ignore[no-untyped-def]
    """A certified section: one sample per radius in ``certified_at``, the rest abstain."""
    from redline.defenses import CertifyResult

    radii = tuple(certified_at) + (0.0,) * (n - len(certified_at))
    predictions = tuple(0 if r > 0 else -1 for r in radii)
    return CertifyResult(
        labels=(0,) * n, predictions=predictions, radii=radii, p_lower=(0.9,) * n,
        sigma=sigma, n0=100, n=1000, alpha=0.001, seed=0, seconds=1.0, forward_passes=1,
    ).section()  # fmt: skip


def test_certified_accuracy_is_compared_per_radius_in_its_own_table(
    digits_scan: ScanResult,
) -> None:
    from redline.reports._compare_gate import regressions

    a = digits_scan.model_copy(update={"certified": _section([0.4] * 60)})
    b = digits_scan.model_copy(update={"certified": _section([0.4] * 20, sigma=0.5)})
    c = compare_results(a, b)
    by_radius = {x.radius: x.accuracy for x in c.certified}
    assert by_radius[0.25].a == 0.75 and by_radius[0.25].b == 0.25
    assert by_radius[0.25].verdict == "worse"
    assert max(by_radius) == 0.4375  # the first radius past 0.4: neither certifies, stop
    assert regressions(c, ["certified"]) and not regressions(c, ["robust", "clean"])
    assert all(x.robust.verdict == "unchanged" for x in c.eps)  # never folded into robust
    md = compare_markdown(c)
    assert "Certified accuracy (randomized smoothing)" in md and "σ = 0.25 → σ = 0.5" in md
    assert 'id="certified"' in compare_html(c)
    only_a = compare_results(a, digits_scan)
    assert {x.accuracy.verdict for x in only_a.certified} == {"n/a"}
    assert not regressions(only_a, ["certified"])
    assert compare_results(digits_scan, digits_scan).certified == ()
