"""The backdoor part of the reports: HTML section, triggers, histograms, backdoor-only scans."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageStat

from redline.errors import InputError
from redline.reports import (
    REPORT_FILES,
    render_html,
    render_junit,
    render_markdown,
    render_sarif,
    write_html,
    write_report_dir,
)
from redline.reports._backdoor import histogram_chart
from redline.reports._svg import COLORS
from redline.results import (
    BackdoorSection,
    BlindSpot,
    DataDetection,
    DetectorClass,
    Histogram,
    ModelDetection,
    PoisonInfo,
    RepairSummary,
    ReversedTrigger,
    ScanResult,
    StripSummary,
)
from redline.results._schema import result_from_dict

NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ANOMALY = [3.61, -0.42, 0.35, 1.12, -1.05, 0.08, -0.3, 0.77, -0.61, 0.19]
SIDE, PATCH = 8, 3


def _trigger(label: int, rng: np.random.Generator) -> ReversedTrigger:
    """Class 0: a 3x3 white patch in the bottom-right corner; others: a diffuse mask."""
    if label == 0:
        mask = np.full((SIDE, SIDE), 0.02)
        mask[-PATCH:, -PATCH:] = 1.0
    else:
        mask = rng.uniform(0.0, 0.6, (SIDE, SIDE))
    pattern = rng.uniform(0.0, 1.0, (1, SIDE, SIDE))
    pattern[0, -PATCH:, -PATCH:] = 1.0
    return ReversedTrigger(label=label, mask=mask.tolist(), pattern=pattern.tolist(),
                           mask_l1=float(mask.sum()), attack_success=0.995)  # fmt: skip


def _histogram(
    groups: tuple[str, str], centres: tuple[float, float], ns: tuple[int, int]
) -> Histogram:
    rng = np.random.default_rng(1)
    edges = np.linspace(0.0, 1.0, 21)
    counts = {
        g: np.histogram(np.clip(rng.normal(c, 0.1, n), 0, 1), bins=edges)[0].tolist()
        for g, c, n in zip(groups, centres, ns, strict=True)
    }
    return Histogram(edges=edges.tolist(), groups=counts)


def _detection(name: str, groups: tuple[str, str], auroc: float | None) -> DataDetection:
    classes = [
        DetectorClass(label=k, name=str(k), n=120, contamination=0.45 if k == 0 else 0.0,
                      flagged=54 if k == 0 else 0, suspicious=k == 0,
                      statistic=4.2 if k == 0 else 0.3 + 0.05 * k)
        for k in range(10)
    ]  # fmt: skip
    return DataDetection(
        detector=name, layer="features.3", n=1200, flagged=54, suspicious_classes=[0],
        classes=classes, auroc=auroc, tpr_at_5_fpr=None if auroc is None else 0.9,
        histogram=_histogram(groups, (0.3, 0.8), (1080, 120)), top=list(range(500, 520)),
        seconds=1.5,
    )  # fmt: skip


def section(flagged: list[int] | None = None) -> BackdoorSection:
    """A trojaned digits model: class 0 flagged by every detector, a repair that worked."""
    rng = np.random.default_rng(0)
    flagged = [0] if flagged is None else flagged
    model = ModelDetection(
        detector="neural-cleanse", anomaly_index=ANOMALY,
        mask_l1=[9.2] + [20.0 + k for k in range(1, 10)], flagged_classes=flagged,
        threshold=2.0, triggers=[_trigger(k, rng) for k in range(10)],
        details={"steps": 300}, seconds=12.0,
    )  # fmt: skip
    entropy = _histogram(("clean", "triggered"), (0.7, 0.1), (300, 280))
    strip = StripSummary(threshold=0.35, frr=0.01, n_overlays=32, clean_frr_measured=0.012,
                         far=0.04, auroc=0.981, hijacked=280, histogram=entropy)  # fmt: skip
    repair = RepairSummary(method="fine-prune", params={"prune_ratio": 0.2}, asr_before=0.98,
                           asr_after=0.04, accuracy_before=0.96, accuracy_after=0.94,
                           der=0.96)  # fmt: skip
    return BackdoorSection(
        verdict="trojaned",
        summary="Class zero is the target of a backdoor: its reversed trigger is 2.3x smaller.",
        data=[
            _detection("spectral", ("clean", "poisoned"), 0.97),
            _detection("activation-clustering", ("unflagged", "flagged"), None),
        ],
        model=model, strip=strip, repair=repair,
        poison=PoisonInfo(attack="badnets", rate=0.1, target_class=0, n_poisoned=120,
                          target_share=0.52, asr=0.98),
    )  # fmt: skip


@pytest.fixture(scope="module")
def bd_result(digits_scan: ScanResult) -> ScanResult:
    data = digits_scan.data.model_copy(update={"class_names": NAMES})
    return digits_scan.model_copy(update={"backdoor": section(), "data": data})


@pytest.fixture(scope="module")
def bd_only(bd_result: ScanResult) -> ScanResult:
    """What ``redline backdoor scan-model`` produces: no threat model, no attacks, no checks."""
    config = bd_result.config.model_copy(
        update={"norm": None, "eps": [], "attacks": [], "minimal": None, "suite": "none"}
    )
    update = {"config": config, "eps": [], "minimal": None, "checks": [], "examples": []}
    return bd_result.model_copy(update=update)


@pytest.fixture(scope="module")
def bd_html(bd_result: ScanResult) -> str:
    return render_html(bd_result)


def _backdoor_part(html: str) -> str:
    start = html.index('<section class="card" id="backdoor">')
    return html[start : html.index("</section>", start)]


def _ids(html: str) -> list[str]:
    return re.findall(r'\bid="([^"]+)"', html)


def _images(html: str) -> list[Image.Image]:
    uris = re.findall(r'<img src="data:image/png;base64,([^"]+)"', html)
    return [Image.open(io.BytesIO(base64.b64decode(u))).convert("L") for u in uris]


def test_section_verdict_and_nav(bd_html: str) -> None:
    assert "backdoor" in _ids(bd_html) and 'href="#backdoor"' in bd_html
    part = _backdoor_part(bd_html)
    assert 'class="badge FAIL">TROJANED<' in part and 'class="word">trojaned<' in part
    assert "its reversed trigger is 2.3x smaller" in part
    assert "Flagged target class: <b>zero</b>" in part
    verdict = bd_html[bd_html.index('id="verdict"') : bd_html.index("<nav")]
    assert "Backdoor" in verdict and "trojaned" in verdict and "class zero" in verdict
    assert '<div class="alert FAIL"><b>Backdoor found (target class zero).</b>' in bd_html


def test_ground_truth_and_repair(bd_html: str) -> None:
    part = _backdoor_part(bd_html)
    assert "<code>badnets</code>" in part and "52.0%" in part and "120" in part
    repair = part[part.index("Repair: fine-prune") :]
    assert "0.960" in repair and "prune_ratio=0.2" in repair
    assert "98.0%" in repair and "4.0%" in repair and "96.0%" in repair and "94.0%" in repair


def test_flagged_trigger_images(bd_html: str) -> None:
    """One flagged class: mask, pattern and mask x pattern, the patch where it was put."""
    part = _backdoor_part(bd_html)
    mask, pattern, stamped = images = _images(part)
    assert len(images) == 3
    assert mask.size == (88, 88)  # 8x8 upscaled 11x, nearest neighbour
    px = 88 // SIDE
    corner = mask.crop((px * (SIDE - PATCH), px * (SIDE - PATCH), 88, 88))
    assert ImageStat.Stat(corner).mean[0] == 255  # the patch is white
    assert ImageStat.Stat(mask.crop((0, 0, 40, 40))).mean[0] < 10  # the rest is dark
    assert ImageStat.Stat(stamped.crop((0, 0, 40, 40))).mean[0] < 20
    assert ImageStat.Stat(pattern.crop((0, 0, 40, 40))).stddev[0] > 20  # random pattern
    assert "anomaly index <b>3.61</b>" in part and "L1 = <b>10.1</b>" in part


def test_no_flagged_class_shows_highest_index(bd_result: ScanResult) -> None:
    result = bd_result.model_copy(update={"backdoor": section(flagged=[])})
    part = _backdoor_part(render_html(result))
    assert len(_images(part)) == 3
    assert "class <b>zero</b>" in part and "highest anomaly index" in part
    two = bd_result.model_copy(update={"backdoor": section(flagged=[0, 3])})
    part = _backdoor_part(render_html(two))
    assert len(_images(part)) == 6 and "class <b>three</b> · <span" in part


def test_data_detectors_only(bd_result: ScanResult) -> None:
    """``scan-data``: no model detector, STRIP, repair or ground truth; a clean verdict."""
    sec = BackdoorSection(verdict="clean", summary="No detector flags a class.",
                          data=section().data[1:])  # fmt: skip
    html = render_html(bd_result.model_copy(update={"backdoor": sec}))
    part = _backdoor_part(html)
    assert 'class="badge PASS">CLEAN<' in part and part.count("<svg") == 1
    assert "<img" not in part and "STRIP" not in part and "Repair" not in part
    assert "Ground truth" not in part
    assert "Backdoor found" not in html and "Backdoor suspected" not in html
    verdict = html[html.index('id="verdict"') : html.index("<nav")]
    assert "clean" in verdict and "class zero" in verdict and "1 detector run" in verdict


def test_histograms_and_anomaly_chart(bd_html: str) -> None:
    part = _backdoor_part(bd_html)
    assert part.count("<svg") == 4  # anomaly index, two data detectors, STRIP
    assert 'aria-label="Anomaly index per class with the detection threshold"' in part
    assert 'aria-label="spectral scores: clean vs poisoned"' in part
    assert 'aria-label="activation-clustering scores: unflagged vs flagged"' in part
    for legend in ("clean (n = 1,080)", "poisoned (n = 120)", "flagged (n = 120)", "threshold 2"):
        assert legend in part
    assert "AUROC <b>0.970</b>" in part and "TPR at 5% FPR <b>90.0%</b>" in part
    assert "threshold 0.35" in part and "0.981" in part  # STRIP
    assert "triggered (n = 280)" in part and "hijacked triggered inputs measured" in part


def test_histogram_colours_follow_group_names() -> None:
    """The poisoned group is drawn in the adversarial colour whatever its position."""
    hist = Histogram(edges=[0.0, 0.5, 1.0], groups={"poisoned": [0, 4], "clean": [9, 1]})
    svg = histogram_chart(hist, name="h", label="scores", xlabel="score")
    adversarial, accent = COLORS["adversarial"], COLORS["accent"]
    assert svg.index(f"stroke: {adversarial}") < svg.index(f"stroke: {accent}")
    assert "poisoned (n = 4)" in svg and "clean (n = 10)" in svg
    bad = Histogram(edges=[0.0, 1.0], groups={"clean": [1, 2]})
    with pytest.raises(InputError, match="2 counts for 2 edges"):
        histogram_chart(bad, name="h", label="scores", xlabel="score")


def test_suspicious_classes_highlighted(bd_html: str) -> None:
    part = _backdoor_part(bd_html)
    rows = [r.strip() for r in re.findall(r"<tr class=\"suspicious\"><td>([^<]+)<", part)]
    assert rows == ["zero", "zero", "zero"]  # anomaly table and both data detectors
    assert "<b>54</b> of 1,200 samples flagged in suspicious class <b>zero</b>" in part


def test_self_contained_and_ids_unique(bd_html: str) -> None:
    ids = _ids(bd_html)
    assert len(ids) == len(set(ids))
    for ref in re.findall(r'(?:url\(#|href="#)([^")]+)', bd_html):
        assert ref in ids
    assert "<script" not in bd_html.lower() and "http://" not in bd_html


def test_backdoor_only_html(bd_only: ScanResult) -> None:
    html = render_html(bd_only)
    ids = _ids(html)
    for gone in ("robustness", "classes", "minimal", "attacks", "examples", "checks"):
        assert gone not in ids and f'href="#{gone}"' not in html
    for kept in ("verdict", "backdoor", "calibration", "reproducibility"):
        assert kept in ids
    assert html.count("<svg") == 5  # calibration + the four backdoor charts
    assert "backdoor checks only" in html and "ε ∈" not in html
    assert "Attack settings" not in html and "Sanity checks" not in html
    assert "Backdoor verdict: trojaned." in html


def test_backdoor_only_other_formats(bd_only: ScanResult, tmp_path: Path) -> None:
    md = render_markdown(bd_only)
    assert "backdoor checks," in md and "No sanity checks" not in md and "ε =" not in md
    junit = ET.fromstring(render_junit(bd_only))
    assert junit.get("tests") == "0"
    props = {p.get("name"): p.get("value") for p in junit.iter("property")}
    assert props["backdoor.verdict"] == "trojaned" and props["norm"] == "none"
    run = json.loads(render_sarif(bd_only))["runs"][0]
    assert run["results"] == [] and run["properties"]["backdoor_verdict"] == "trojaned"
    write_report_dir(bd_only, tmp_path / "report")
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == sorted(REPORT_FILES)
    back = ScanResult.from_json(tmp_path / "report" / "scan.json")
    assert back.backdoor == bd_only.backdoor and back.config.norm is None


def test_markdown_block(bd_result: ScanResult) -> None:
    md = render_markdown(bd_result)
    block = md[md.index("**Backdoor: TROJANED.**") : md.index("**Policy")]
    assert "| `spectral` | features.3 | 54 of 1,200 | **zero** | 0.970 | 90.0% |" in block
    assert "| `activation-clustering` | features.3 | 54 of 1,200 | **zero** | — | — |" in block
    assert "flagged **zero**; highest anomaly index 3.61, threshold 2" in block
    assert "STRIP: entropy threshold 0.35, FRR 1.0% (measured 1.2%), FAR 4.0%" in block
    assert "attack success 98.0% → 4.0%" in block and "DER **0.960**" in block
    assert "`badnets`, 10.0% poisoned (120 samples), target **zero**" in block


def test_no_backdoor_no_section(digits_scan: ScanResult) -> None:
    html = render_html(digits_scan)
    assert "backdoor" not in _ids(html) and 'href="#backdoor"' not in html
    assert "Backdoor" not in html
    assert "Backdoor" not in render_markdown(digits_scan)
    assert "backdoor.verdict" not in render_junit(digits_scan)


def test_bad_trigger_is_input_error(bd_result: ScanResult) -> None:
    sec = section()
    assert sec.model is not None
    bad = sec.model.triggers[0].model_copy(update={"mask": [[0.5] * 4] * 4})
    model = sec.model.model_copy(update={"triggers": [bad]})
    result = bd_result.model_copy(update={"backdoor": sec.model_copy(update={"model": model})})
    with pytest.raises(InputError, match="reversed trigger of class 0: mask"):
        render_html(result)


def test_user_text_is_escaped(bd_result: ScanResult) -> None:
    evil = "<script>alert(1)</script>"
    sec = section().model_copy(update={"summary": evil})
    html = render_html(bd_result.model_copy(update={"backdoor": sec}))
    assert evil not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _chromium() -> str:
    """The Chromium binary, or skip (fail under REDLINE_REQUIRE_BROWSER=1) without one."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("REDLINE_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "headless Chromium not found; REDLINE_REQUIRE_BROWSER=1 makes this an error"
            )
        pytest.skip("headless Chromium not found")
    return found


@pytest.mark.browser
def test_backdoor_section_in_chromium(bd_only: ScanResult, tmp_path: Path) -> None:
    """The backdoor-only page parses and paints: section, charts and trigger images in the DOM."""
    page = tmp_path / "report.html"
    write_html(bd_only, page)
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--hide-scrollbars", f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1280,2400"]  # fmt: skip
    shot = tmp_path / "shot.png"
    for extra in ([f"--screenshot={shot}"], ["--dump-dom"]):
        proc = subprocess.run([*args, *extra, page.as_uri()], capture_output=True, text=True,
                              timeout=120, check=False)  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'id="backdoor"' in dom and dom.count("<svg") == 5
    assert dom.count('<img src="data:image/png;base64,') == 3
    img = Image.open(shot).convert("RGB")
    assert ImageStat.Stat(img.convert("L")).stddev[0] > 15
    red = sum(n for n, (r, g, b) in img.getcolors(1 << 20) or [] if r > 180 and g < 90 and b < 90)
    assert red > 200  # the trojaned verdict and the flagged bar are painted red


def test_blind_spots_are_shown_and_old_results_still_load(bd_result: ScanResult) -> None:
    spots = [BlindSpot(check="spectral", misses="warp <b>triggers</b> at 1%: AUROC 0.61")]
    assert bd_result.backdoor is not None
    sec = bd_result.backdoor.model_copy(update={"blind_spots": spots})
    result = bd_result.model_copy(update={"backdoor": sec})
    md = render_markdown(result)
    assert "Known blind spots" in md
    assert "- `spectral`: warp <b>triggers</b> at 1%: AUROC 0.61" in md
    part = _backdoor_part(render_html(result))
    assert 'id="blind-spots"' in part and "warp &lt;b&gt;triggers&lt;/b&gt;" in part
    assert 'id="blind-spots"' not in _backdoor_part(render_html(bd_result))
    old = json.loads(result.model_dump_json())
    old["schema_version"] = "1.2"
    del old["backdoor"]["blind_spots"]
    back = result_from_dict(old, "old scan.json")
    assert back.backdoor is not None and back.backdoor.blind_spots == []
