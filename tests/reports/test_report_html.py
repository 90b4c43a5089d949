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
from redline.reports import render_html, render_junit, render_markdown, render_sarif, write_html
from redline.reports._format import fmt_ci, fmt_pct
from redline.results import ScanResult

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
