"""The HTML report: headline numbers, every section, self-contained, escaped, deterministic."""

from __future__ import annotations

import base64
import io
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

from redline.errors import InputError
from redline.policy import load_policy
from redline.reports import render_html, render_junit, render_markdown, render_sarif, write_html
from redline.reports._attacks import attack_rows, settings_rows
from redline.reports._format import fmt_ci, fmt_num, fmt_pct
from redline.results import Accuracy, AttackConfig, ScanResult, wilson

EPS_GRID = [2 / 255, 4 / 255, 8 / 255]

SECTIONS = [
    "verdict",
    "policy",
    "robustness",
    "classes",
    "calibration",
    "minimal",
    "attacks",
    "examples",
    "checks",
    "reproducibility",
]


@pytest.fixture(scope="module")
def image_html(image_result: ScanResult) -> str:
    return render_html(image_result)


@pytest.fixture(scope="module")
def tabular_html(tabular_result: ScanResult) -> str:
    return render_html(tabular_result)


class _Tags(HTMLParser):
    """Collects start tags, their attributes and the element ids of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: Counter[str] = Counter()
        self.ids: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] += 1
        for name, value in attrs:
            self.attrs.append((tag, name, value or ""))
            if name == "id":
                self.ids.append(value or "")


def _parse(html: str) -> _Tags:
    parser = _Tags()
    parser.feed(html)
    return parser


def test_headline_numbers(image_result: ScanResult, image_html: str) -> None:
    verdict = image_html[image_html.index('id="verdict"') : image_html.index('id="policy"')]
    clean = image_result.clean.accuracy
    assert fmt_pct(clean.value) in verdict and fmt_ci(clean) in verdict
    for r in image_result.eps:
        assert fmt_pct(r.robust.value) in verdict
        assert fmt_ci(r.robust) in verdict
    assert "8/255" in verdict and "2/255" in verdict
    assert "FAIL" in verdict  # policy verdict
    assert "1 FAIL" in verdict and "1 WARN" in verdict  # check counts


def test_every_section_present(image_html: str) -> None:
    ids = _parse(image_html).ids
    for section in SECTIONS:
        assert section in ids
    assert "Per-class table" in image_html and "Slices" in image_html


def test_optional_sections_absent_for_tabular(tabular_html: str) -> None:
    ids = _parse(tabular_html).ids
    for section in ("examples", "minimal", "policy"):
        assert section not in ids
    for section in ("verdict", "robustness", "classes", "calibration", "attacks", "checks"):
        assert section in ids
    assert "Slices" not in tabular_html
    assert "no policy file given" in tabular_html
    assert "minimum-norm" not in tabular_html


def test_charts_are_inline_svg(image_html: str, tabular_html: str) -> None:
    assert _parse(image_html).tags["svg"] == 5
    assert _parse(tabular_html).tags["svg"] == 4  # no minimal-perturbation histogram
    assert "<?xml" not in image_html and "<!DOCTYPE svg" not in image_html
    assert "xlink:" not in image_html


def test_self_contained(image_html: str, tabular_html: str) -> None:
    for html in (image_html, tabular_html):
        lowered = html.lower()
        assert "http://" not in lowered and "https://" not in lowered
        assert 'src="//' not in lowered and "<script" not in lowered and "<link" not in lowered
        for tag, name, value in _parse(html).attrs:
            if name in ("src", "href"):
                assert value.startswith(("data:image/png;base64,", "#")), (tag, value[:40])


def test_ids_unique(image_html: str) -> None:
    ids = _parse(image_html).ids
    duplicates = [k for k, n in Counter(ids).items() if n > 1]
    assert not duplicates
    for ref in re.findall(r'(?:url\(#|href="#)([^")]+)', image_html):
        assert ref in ids


def test_example_images(image_result: ScanResult, image_html: str) -> None:
    srcs = [v for tag, name, v in _parse(image_html).attrs if tag == "img" and name == "src"]
    assert len(srcs) == 3 * len(image_result.examples)
    img = Image.open(io.BytesIO(base64.b64decode(srcs[0].split(",", 1)[1])))
    assert img.size == (88, 88)  # 8x8 upscaled by an integer factor, nearest neighbour
    assert len(img.convert("L").getcolors() or []) > 2
    pixel_blocks = img.convert("L").crop((0, 0, 11, 11)).getextrema()
    assert pixel_blocks[0] == pixel_blocks[1]  # one source pixel = one flat 11x11 block
    assert "#17" in image_html and "apgd-ce" in image_html


def test_checks_fail_and_warn_first(image_result: ScanResult, image_html: str) -> None:
    section = image_html[image_html.index('id="checks"') :]
    order = sorted(image_result.checks, key=lambda c: section.index(f">{c.id}<"))
    assert [c.status for c in order] == ["FAIL", "WARN", "PASS", "PASS", "SKIP"]
    assert "Evaluate with BPDA/EOT" in section and "square_only" in section


def test_reproducibility_footer(image_result: ScanResult, image_html: str) -> None:
    footer = image_html[image_html.index('id="reproducibility"') :]
    assert image_result.target.sha256 is not None
    for needle in (
        image_result.target.sha256,
        image_result.data.sha256,
        "2.13.0+cpu",
        "p_init=0.8",
        "steps=100",
        "470,000",
        "61.3",
        "attacks (s)",
    ):
        assert needle in footer


def test_user_text_is_escaped(image_result: ScanResult) -> None:
    evil = "<script>alert(1)</script>"
    data = image_result.data.model_copy(
        update={"class_names": [evil, "$5 bill"] + [str(i) for i in range(2, 10)]}
    )
    clean = image_result.clean.model_copy(
        update={
            "per_class": [
                g.model_copy(update={"name": evil}) for g in image_result.clean.per_class[:1]
            ]
        }
    )
    html = render_html(image_result.model_copy(update={"data": data, "clean": clean}))
    assert evil not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_deterministic(image_result: ScanResult, image_html: str) -> None:
    assert render_html(image_result) == image_html


def test_write_html(image_result: ScanResult, tmp_path: Path) -> None:
    path = tmp_path / "deep" / "report.html"
    write_html(image_result, path)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert not hasattr(image_result, "to_html")  # results are data: pages are the reports'


def test_unwritable_path_is_input_error(tabular_result: ScanResult, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot write report"):
        write_html(tabular_result, blocker / "report.html")


def test_degenerate_result_renders(tabular_result: ScanResult) -> None:
    """No eps, no classes, no checks, empty reliability: every report still renders."""
    clean = tabular_result.clean.model_copy(update={"per_class": []})
    bare = tabular_result.model_copy(update={"eps": [], "checks": [], "clean": clean})
    html = render_html(bare)
    ids = _parse(html).ids
    assert "classes" not in ids and "checks" in ids
    assert "no attack run" in html and "No checks were run" in html
    assert _parse(html).tags["svg"] == 2  # robustness (clean point only) and reliability
    assert "| clean |" in render_markdown(bare)
    assert 'tests="0"' in render_junit(bare)
    assert '"results": []' in render_sarif(bare)


def _zero_at_last(result: ScanResult) -> ScanResult:
    """The result with no sample surviving its largest eps."""
    n = result.eps[-1].robust.n
    dead = Accuracy(value=0.0, n=n, correct=0, ci=wilson(0, n))
    last = result.eps[-1].model_copy(update={"robust": dead})
    return result.model_copy(update={"eps": [*result.eps[:-1], last], "policy": None})


def _lede(html: str) -> str:
    return html[html.index('class="lede">') : html.index("</p>", html.index('class="lede">'))]


def _with_policy(result: ScanResult, tmp_path: Path, toml: str) -> ScanResult:
    path = tmp_path / "p.toml"
    path.write_text(toml, encoding="utf-8")
    bare = result.model_copy(update={"policy": None})
    return bare.model_copy(update={"policy": load_policy(path).evaluate(bare)})


def test_headline_quotes_the_eps_the_policy_gates_on(
    image_result: ScanResult, tmp_path: Path
) -> None:
    """A passing rule at 2/255 and a failing one at 4/255: the failing one is quoted."""
    gated = _with_policy(
        image_result,
        tmp_path,
        "[policy]\nchecks = 'none'\n"
        "[[policy.robust]]\neps = '2/255'\nmin_accuracy = 0.5\n"
        "[[policy.robust]]\neps = '4/255'\nmin_accuracy = 0.9\n",
    )
    at = gated.eps[1]
    lede = _lede(render_html(gated))
    assert "at ε = 4/255 (the ε the policy gates on)" in lede
    assert f"to {fmt_pct(at.robust.value)} (Wilson 95% {fmt_ci(at.robust)})" in lede
    assert "asks for at least 90.0% there: FAIL" in lede
    assert fmt_pct(gated.eps[-1].robust.value) not in lede  # not the largest eps
    assert "the ε the policy gates on" in render_markdown(gated)


def test_headline_without_policy_skips_eps_where_nothing_survives(
    image_result: ScanResult,
) -> None:
    broken = _zero_at_last(image_result)
    lede = _lede(render_html(broken))
    at = broken.eps[1]
    assert "at ε = 4/255 (the largest ε at which any sample survives)" in lede
    assert f"to {fmt_pct(at.robust.value)}" in lede and "to 0.0%" not in lede
    assert "at ε = 8/255 no sample survives" in lede
    plain = _lede(render_html(image_result.model_copy(update={"policy": None})))
    assert "at ε = 8/255 (the largest ε scanned)" in plain


def test_empty_reliability_diagram_is_a_sentence(image_result: ScanResult) -> None:
    html = render_html(_zero_at_last(image_result))
    calibration = html[html.index('id="calibration"') : html.index('id="minimal"')]
    assert "no sample survives at ε = 8/255: no calibration to show" in calibration
    assert "ε = 4/255 · ECE" in calibration and "ε = 8/255 · ECE" not in calibration
    assert "no calibration to show" not in render_html(image_result)


def _credited(result: ScanResult) -> ScanResult:
    """Attack counts as a real scan writes them: ``broken_by`` accumulates over eps (and
    the minimum-norm attack's folded-in breaks), the stats are per eps."""
    plan = [  # (apgd attacked, apgd broken, square attacked, square broken, fmn so far)
        (350, 50, 300, 9, 0),
        (291, 100, 191, 11, 8),
        (172, 100, 72, 30, 12),
    ]
    eps, apgd, square = [], 0, 0
    for r, (aa, ab, sa, sb, fmn) in zip(result.eps, plan, strict=True):
        apgd, square = apgd + ab, square + sb
        stats = [
            r.attacks[0].model_copy(update={"attacked": aa, "broken": ab}),
            r.attacks[1].model_copy(update={"attacked": sa, "broken": sb}),
        ]
        by = {"apgd-ce": apgd, "square": square} | ({"fmn": fmn} if fmn else {})
        eps.append(r.model_copy(update={"attacks": stats, "broken_by": by}))
    return result.model_copy(update={"eps": eps})


def test_attack_counts_split_this_eps_from_smaller_eps(image_result: ScanResult) -> None:
    result = _credited(image_result)
    last = {row.attack: row for row in attack_rows(result)[-1].rows}
    assert (last["apgd-ce"].broken_here, last["apgd-ce"].broken_before) == (100, 150)
    assert (last["square"].broken_here, last["square"].broken_before) == (30, 20)
    assert (last["fmn"].broken_here, last["fmn"].broken_before, last["fmn"].stats) == (4, 8, None)
    for block in attack_rows(result):
        for row in block.rows:
            assert row.broken_here + row.broken_before == block.eps.broken_by[row.attack]
    html = render_html(result)
    section = html[html.index('id="attacks"') : html.index('id="examples"')]
    for header in ("attacked at this ε", "broken at this ε", "broken at a smaller ε"):
        assert f">{header}</th>" in section
    assert "first to break" not in section and "minimum-norm, re-verified" in section


def test_attack_settings_per_eps(image_result: ScanResult) -> None:
    html = render_html(image_result)
    footer = html[html.index('id="reproducibility"') :]
    assert "Recorded once, at ε = 2/255" in footer
    for e in ("2/255", "4/255", "8/255"):
        assert f"step at ε = {e}" in footer
    row = next(r for r in settings_rows(image_result) if r.attack == "apgd-ce")
    assert row.rule.startswith("2ε") and row.steps == [fmt_num(2 * e) for e in EPS_GRID]
    pgd = AttackConfig(name="pgd", params={"eps": EPS_GRID[0], "steps": 10, "step_size": 0.0025})
    fixed = image_result.model_copy(
        update={"config": image_result.config.model_copy(update={"attacks": [pgd]})}
    )
    (got,) = [r for r in settings_rows(fixed) if r.attack == "pgd"]
    assert got.rule == "fixed step_size" and got.steps == ["0.0025"] * 3
    default = pgd.model_copy(update={"params": {**pgd.params, "step_size": 2.5 * EPS_GRID[0] / 10}})
    scaled = fixed.model_copy(
        update={"config": fixed.config.model_copy(update={"attacks": [default]})}
    )
    (got,) = [r for r in settings_rows(scaled) if r.attack == "pgd"]
    assert got.rule == "2.5ε / steps" and got.steps == [fmt_num(0.25 * e) for e in EPS_GRID]


def test_policy_path_is_a_wrapping_mono_block(image_result: ScanResult) -> None:
    long = "/home/ci/runner/work/some-repository/policies/release-candidate/redline.toml"
    policy = image_result.policy
    assert policy is not None
    html = render_html(
        image_result.model_copy(update={"policy": policy.model_copy(update={"source": long})})
    )
    verdict = html[html.index('id="verdict"') : html.index('id="policy"')]
    assert f'<div class="sub path" title="{long}">{long}</div>' in verdict
    assert re.search(r"\.path \{[^}]*overflow-wrap: anywhere", html)
    assert re.search(r"\.tile \{[^}]*min-width: 0", html)


@pytest.mark.slow
def test_attack_counts_add_up_on_a_real_scan(digits_scan: ScanResult) -> None:
    """On a real scan the split counts account for every broken sample at every eps."""
    clean = digits_scan.clean.accuracy.correct
    for block in attack_rows(digits_scan):
        for row in block.rows:
            assert row.broken_here + row.broken_before == block.eps.broken_by.get(row.attack, 0)
        total = sum(row.broken_here + row.broken_before for row in block.rows)
        assert total == clean - block.eps.robust.correct
