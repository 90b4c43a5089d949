"""Charts: inline-ready SVG, chart content follows the result, awkward labels survive."""

from __future__ import annotations

import re

from redline.reports._charts import (
    MAX_CLASSES,
    broken_by_chart,
    eps_colors,
    per_class_chart,
    render_charts,
    robustness_chart,
)
from redline.reports._svg import inline_svg
from redline.results import GroupAccuracy, ScanResult


def _texts(svg: str) -> list[str]:
    return [t.strip() for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def test_svg_is_inline_ready(image_result: ScanResult) -> None:
    charts = render_charts(image_result)
    assert set(charts) == {"robust", "reliability", "per_class", "broken_by", "minimal"}
    for name, svg in charts.items():
        assert svg.startswith('<svg role="img" aria-label='), name
        assert "http" not in svg and "<style" not in svg and "<metadata" not in svg
        assert 'width="100%"' in svg and "viewBox" in svg


def test_inline_svg_prefixes_ids() -> None:
    raw = (
        '<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="72pt" '
        'height="36pt" viewBox="0 0 72 36"><defs><style>*{x:y}</style>'
        '<path id="m1"/></defs><use xlink:href="#m1"/><g clip-path="url(#p2)"/></svg>'
    )
    svg = inline_svg(raw, "demo", 'a "label"')
    assert 'id="demo-m1"' in svg and 'href="#demo-m1"' in svg and "url(#demo-p2)" in svg
    assert "xmlns" not in svg and "<style" not in svg and "<?xml" not in svg
    assert 'style="max-width:96px"' in svg and 'aria-label="a &quot;label&quot;"' in svg


def test_robustness_chart_labels(image_result: ScanResult) -> None:
    texts = _texts(robustness_chart(image_result))
    assert {"2/255", "4/255", "8/255"} <= set(texts)
    assert "chance (10%)" in texts and "minimum-norm (fmn)" in texts
    assert "attack suite (Wilson 95%)" in texts


def test_per_class_chart_limits_classes(image_result: ScanResult) -> None:
    many = [
        GroupAccuracy(name=f"class {i}", accuracy=image_result.clean.per_class[0].accuracy)
        for i in range(MAX_CLASSES + 15)
    ]
    clean = image_result.clean.model_copy(update={"per_class": many})
    svg = per_class_chart(image_result.model_copy(update={"clean": clean}))
    assert svg is not None
    ticks = [t for t in _texts(svg) if t.startswith("class ")]
    assert len(ticks) == MAX_CLASSES


def test_dollar_signs_are_not_mathtext(image_result: ScanResult) -> None:
    groups = [
        g.model_copy(update={"name": f"${i} bill"})
        for i, g in enumerate(image_result.clean.per_class)
    ]
    clean = image_result.clean.model_copy(update={"per_class": groups})
    svg = per_class_chart(image_result.model_copy(update={"clean": clean}))
    assert svg is not None and "$3 bill" in _texts(svg)


def test_broken_by_counts(image_result: ScanResult) -> None:
    texts = _texts(broken_by_chart(image_result) or "")
    last = image_result.eps[-1]
    assert str(last.broken_by["apgd-ce"]) in texts and str(last.robust.correct) in texts
    assert "wrong when clean" in texts and "robust" in texts


def test_eps_colors_light_to_dark() -> None:
    colors = eps_colors(3)
    lum = [sum(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in colors]
    assert lum == sorted(lum, reverse=True) and len(set(colors)) == 3
    assert len(eps_colors(1)) == 1
