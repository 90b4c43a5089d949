"""The HTML report in a real headless Chromium: it parses, shows the charts, paints a page."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image, ImageStat

from redline.reports import write_html
from redline.results import ScanResult

pytestmark = pytest.mark.browser

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]


@dataclass(frozen=True)
class Rendered:
    dom: str
    screenshot: Path


def _chromium() -> str:
    """The Chromium binary, or skip (fail under REDLINE_REQUIRE_BROWSER=1) without one."""
    found = next(
        (
            path
            for path in (
                "/usr/bin/chromium",
                shutil.which("chromium"),
                shutil.which("chromium-browser"),
            )
            if path and Path(path).is_file() and os.access(path, os.X_OK)
        ),
        None,
    )
    if found is None:
        reason = "headless Chromium not found (looked for /usr/bin/chromium and chromium on PATH)"
        if os.environ.get("REDLINE_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{reason}; REDLINE_REQUIRE_BROWSER=1 makes this an error")
        pytest.skip(reason)
    return found


def _run(args: list[str]) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def rendered(image_result: ScanResult, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    chromium = _chromium()
    root = tmp_path_factory.mktemp("browser")
    page = root / "report.html"
    write_html(image_result, page)
    base = [chromium, *FLAGS, f"--user-data-dir={root / 'profile'}", "--window-size=1280,4000"]
    shot = root / "screenshot.png"
    _run([*base, f"--screenshot={shot}", page.as_uri()])
    dom = _run([*base, "--dump-dom", page.as_uri()])
    return Rendered(dom, shot)


def test_dom_has_charts_and_headline(image_result: ScanResult, rendered: Rendered) -> None:
    dom = rendered.dom
    assert dom.count("<svg") == 5
    assert "Clean accuracy" in dom and "97.5%" in dom and "10.6%" in dom
    assert "Robust · ε = 8/255" in dom
    assert "accuracy falls from 97.5% to 10.6%" in dom
    assert dom.count('<img src="data:image/png;base64,') == 3 * len(image_result.examples)


def test_screenshot_is_not_blank(rendered: Rendered) -> None:
    img = Image.open(rendered.screenshot).convert("RGB")
    assert img.size == (1280, 4000)
    stats = ImageStat.Stat(img.convert("L"))
    assert stats.stddev[0] > 15
    colours = img.getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 200
    top = img.crop((0, 0, 1280, 600)).convert("L")
    assert ImageStat.Stat(top).stddev[0] > 10  # the headline card is painted


_MEASURE = """<script>
const bad = [...document.querySelectorAll('.tile, .hint')].filter(box => {
  const outer = box.getBoundingClientRect();
  return box.scrollWidth > box.clientWidth + 1 || [...box.querySelectorAll('.path')].some(
    p => p.getBoundingClientRect().right > outer.right + 0.5);
});
document.body.dataset.overflowing = String(bad.length);
document.body.dataset.paths = String(document.querySelectorAll('.path').length);
</script></body>"""


def test_long_policy_path_stays_inside_its_card(image_result: ScanResult, tmp_path: Path) -> None:
    """A CI runner's long policy path wraps inside the policy tile and card, at a narrow
    and a wide window (the page is measured in the browser by an injected script)."""
    chromium = _chromium()
    long = "/home/runner/work/some-organisation/some-repository/policies/release/redline.toml"
    policy = image_result.policy
    assert policy is not None
    result = image_result.model_copy(update={"policy": policy.model_copy(update={"source": long})})
    page = tmp_path / "report.html"
    write_html(result, page)
    page.write_text(page.read_text(encoding="utf-8").replace("</body>", _MEASURE), "utf-8")
    for width in (900, 1280):
        base = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
        dom = _run([*base, f"--window-size={width},2000", "--dump-dom", page.as_uri()])
        assert 'data-paths="2"' in dom, width
        assert 'data-overflowing="0"' in dom, width
