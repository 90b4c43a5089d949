"""The model card, built from a real registry store: the numbers are the stored scan's,
missing evidence is said out loud, user text is escaped, the intended-use file is strict."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageStat

from redline.datasets import Dataset, manifest
from redline.errors import InputError
from redline.evaluation import ScanResult
from redline.registry import (
    Store,
    add_note,
    open_incident,
    open_store,
    promote,
    record_scan,
    register,
    rollback,
    set_alias,
    transition,
)
from redline.reports import (
    ModelCard,
    build_card,
    card_html,
    card_markdown,
    load_intended_use,
)
from redline.reports._format import fmt_ci, fmt_pct
from redline.results import BackdoorSection, PolicyFinding, PolicyVerdict

NOTE = "retrained on Q3 <script>alert(1)</script> & friends"
INCIDENT = "False positives spike in <b>EU</b>"
REASON = "hotfix for the chargeback spike"
INTENDED = """
[intended_use]
purpose = "Flag card transactions for manual fraud review."
users = "Fraud analysts"
out_of_scope = ["Automatic blocking without human review"]
limitations = ["Trained on 2023 EU transactions only", "Not calibrated for new merchants"]
contact = "ml-risk@example.com"
"""


def judged(result: ScanResult, passed: bool, backdoor: BackdoorSection | None = None) -> ScanResult:
    """``result`` with a policy verdict (one rule passing, one as ``passed``), detached
    from the weights it measured so any version can carry it."""
    findings = [
        PolicyFinding(rule="min_clean_accuracy", passed=True, message="clean ok"),
        PolicyFinding(rule="robust@0.1", passed=passed, message="robust accuracy at 0.1"),
    ]
    verdict = PolicyVerdict(source="redline.toml", passed=passed, findings=findings)
    target = result.target.model_copy(update={"sha256": None})
    return result.model_copy(update={"policy": verdict, "target": target, "backdoor": backdoor})


@dataclass(frozen=True)
class World:
    store: Store
    url: str
    root: Path
    scan_v2: ScanResult
    scan_ids: dict[str, int]


def _weights(root: Path, i: int) -> Path:
    path = root / f"fraud-{i}.pt"
    path.write_bytes(f"fraud weights {i}".encode() * (100 * i))
    return path


def _build(store: Store, root: Path, digits_scan: ScanResult) -> dict[str, int]:
    """fraud@1 (root, scanned, promoted), fraud@2 (child, backdoor scan then failing scan,
    force-promoted), fraud@3 (grandchild, not scanned, staging); two incidents."""
    rng = np.random.default_rng(0)
    data = Dataset(rng.random((20, 4)).astype(np.float32), np.arange(20) % 2, "s3://bank/tx-2023")
    manifest(data).to_json(root / "train.manifest.json")
    common = {"actor": "ana", "data_manifests": [root / "train.manifest.json"]}
    register(store, "fraud", _weights(root, 1), note="baseline", **common,
             training_config={"epochs": 30, "lr": 0.001})  # fmt: skip
    register(store, "fraud", _weights(root, 2), parent="fraud@1", note=NOTE, **common)
    register(store, "fraud", _weights(root, 3), parent="fraud@2", note="hardened", actor="bo")
    ids = {"v1": record_scan(store, "fraud@1", judged(digits_scan, True), actor="ci").id}
    promote(store, "fraud@1", actor="ana")
    suspicious = BackdoorSection(verdict="suspicious", summary="Class 7 looks poisoned.")
    ids["bd"] = record_scan(store, "fraud@2", judged(digits_scan, True, suspicious), actor="ci").id
    ids["v2"] = record_scan(store, "fraud@2", judged(digits_scan, False), actor="ci").id
    promote(store, "fraud@2", actor="cy", force=True, reason=REASON)
    set_alias(store, "fraud@3", "staging", actor="bo")
    old = open_incident(store, "fraud@1", severity="low", title="Slow scoring", actor="ops")
    transition(store, old.id, "acknowledge", actor="ops")
    transition(store, old.id, "resolve", actor="ops", note="false alarm")
    new = open_incident(store, "fraud", severity="high", title=INCIDENT, actor="ops")
    add_note(store, new.id, "looking at the EU slice", actor="ops")
    return ids


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, digits_scan: ScanResult) -> Iterator[World]:
    root = tmp_path_factory.mktemp("card")
    url = f"sqlite:///{root / 'r.db'}"
    store = open_store(url, artifacts=root / "a")
    try:
        ids = _build(store, root, digits_scan)
        yield World(store, url, root, judged(digits_scan, False), ids)
    finally:
        store.engine.dispose()


@pytest.fixture(scope="module")
def card2(world: World) -> ModelCard:
    return build_card(world.store, "fraud@production")


def _section(html: str, anchor: str) -> str:
    start = html.index(f'id="{anchor}"')
    return html[start : html.index("</section>", start)]


def _md_section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 3)
    return text[start : end if end > 0 else len(text)]


def test_the_card_numbers_are_the_stored_scan(world: World, card2: ModelCard) -> None:
    assert card2.version.ref == "fraud@2" and card2.scan is not None
    assert card2.scan.id == world.scan_ids["v2"] and card2.scans_total == 2
    stored, expected = card2.scan.result, world.scan_v2
    assert stored.clean == expected.clean and stored.eps == expected.eps
    assert stored.checks == expected.checks and stored.policy == expected.policy
    html, md = card_html(card2), card_markdown(card2)
    evaluation = _section(html, "evaluation") + _md_section(md, "Evaluation")
    for text in (_section(html, "evaluation"), _md_section(md, "Evaluation")):
        assert fmt_pct(expected.clean.accuracy.value) in text
        assert fmt_ci(expected.clean.accuracy) in text
        assert f"{expected.clean.ece:.3f}" in text
        for e in expected.eps:
            assert fmt_pct(e.robust.value) in text and fmt_ci(e.robust) in text
            assert f"{e.ece:.3f}" in text and fmt_pct(e.attack_success_rate) in text
        assert f"scan #{world.scan_ids['v2']}" in text and "suite" in text
        assert "did not record the hash" in text
    for check in expected.checks:
        assert check.title in evaluation and check.status in evaluation
    policy = _section(html, "evaluation")[_section(html, "evaluation").index('id="policy"') :]
    assert "FAIL" in policy and "robust@0.1" in policy and "1 of 2 rules failed" in policy
    assert "`robust@0.1`: robust accuracy at 0.1" in md and "**FAIL** (redline.toml)" in md


def test_header_aliases_production_and_lineage(world: World, card2: ModelCard) -> None:
    assert card2.aliases == ("production",) and card2.in_production
    assert card2.production == "fraud@2" and card2.versions_total == 3
    assert [p.ref for p in card2.lineage] == ["fraud@1"]
    third = build_card(world.store, "fraud@3")
    assert [p.ref for p in third.lineage] == ["fraud@2", "fraud@1"]
    assert third.aliases == ("staging",) and not third.in_production
    html = card_html(card2)
    assert card2.version.artifact_sha256 in html and "in production</span>" in html
    assert "bytes)" in html and "s3://bank/tx-2023" in _section(html, "lineage")
    assert card2.version.data_manifests[0]["dataset_hash"] in html
    md = card_markdown(third)
    assert "fraud@2 is in production" in md and "| Aliases | staging |" in md
    lineage = _md_section(md, "Training data and lineage")
    assert "fraud@2" in lineage and "fraud@1" in lineage and "baseline" in lineage
    assert "No data manifest was recorded" in lineage
    assert "`epochs` | 30" in _md_section(card_markdown(build_card(world.store, "fraud@1")), "Tr")


def test_an_unscanned_version_says_so(world: World) -> None:
    card = build_card(world.store, "fraud@3")
    assert card.scan is None and card.backdoor_scan is None
    html, md = card_html(card), card_markdown(card)
    evaluation = _section(html, "evaluation")
    assert "Not scanned." in evaluation and "<table" not in evaluation
    assert "PASS" not in evaluation and "sanity" not in evaluation.lower()
    assert "**Not scanned.**" in _md_section(md, "Evaluation")
    assert "95% CI" not in _md_section(md, "Evaluation")
    assert "No backdoor scan of fraud@3 is recorded." in md
    row = next(g for g in card.governance if g.activity.startswith("Accuracy"))
    assert not row.present and row.evidence == "not scanned"
    assert "alert WARN" in html and "not scanned" in _section(html, "summary")


def test_open_incidents_are_listed_first(card2: ModelCard) -> None:
    assert [i.state for i in card2.open_incidents] == ["open"]
    assert [i.state for i in card2.resolved_incidents] == ["resolved"]
    html = card_html(card2)
    alert = html[: html.index('id="summary"')]
    assert "1 open incident on fraud." in alert and "(high)" in alert
    incidents = _section(html, "incidents")
    assert incidents.index("Open (1)") < incidents.index("Resolved (1)")
    assert "Slow scoring" in incidents and "2 events" in incidents and "3 events" in incidents
    assert "fraud@2" in incidents  # the bare-name incident links the production version
    md = _md_section(card_markdown(card2), "Incidents")
    assert "### Open (1)" in md and "| high | open |" in md and "| low | resolved |" in md


def test_a_forced_promotion_is_flagged(world: World, card2: ModelCard) -> None:
    assert [p.action for p in card2.promotions] == ["promote", "force", "set"]
    (forced,) = card2.forced_promotions
    assert forced.actor == "cy" and forced.reason == REASON
    assert forced.gate == f"scan #{world.scan_ids['v2']} failed its policy"
    html = card_html(card2)
    assert "Forced into production over a failing policy." in html[: html.index('id="summary"')]
    promotions = _section(html, "promotions")
    assert '<tr class="forced">' in promotions and "FORCED</span>" in promotions
    assert REASON in promotions
    md = _md_section(card_markdown(card2), "Promotion history")
    assert f"**FORCED (policy override)** | production | 2 | 1 | {REASON}" in md
    row = next(g for g in card2.governance if g.activity.startswith("Policy-gated"))
    assert row.present and "1 forced override" in row.evidence


def test_backdoor_comes_from_the_newest_scan_that_has_one(world: World, card2: ModelCard) -> None:
    assert card2.backdoor_scan is not None and card2.backdoor_scan.id == world.scan_ids["bd"]
    html = _section(card_html(card2), "backdoor")
    assert "SUSPICIOUS" in html and "Class 7 looks poisoned." in html
    assert f"scan #{world.scan_ids['bd']}" in html
    first = card_markdown(build_card(world.store, "fraud@1"))
    assert "No backdoor scan of fraud@1 is recorded." in first


def test_governance_maps_evidence_and_says_it_is_informative(
    world: World, card2: ModelCard
) -> None:
    rows = {g.activity.split()[0]: g for g in card2.governance}
    assert rows["Accuracy"].iso == ("A.6.2.4",) and "MEASURE 2.7" in rows["Accuracy"].nist
    assert rows["Training-data"].iso == ("A.7.5", "A.7.3") and rows["Training-data"].present
    assert rows["Tamper-evident,"].iso == ("A.6.2.8",) and rows["Tamper-evident,"].present
    assert not rows["Intended"].present and not rows["Rollback"].present
    events = len(world.store.events())
    assert card2.audit.ok and card2.audit.events == events
    assert f"audit chain verified ({events} events" in rows["Tamper-evident,"].evidence
    html = _section(card_html(card2), "governance")
    assert "not a certification" in html and "A.6.2.4 AI system verification and validation" in html
    assert "A.7.5 Data provenance" in html and "MANAGE 1.1" in html
    md = _md_section(card_markdown(card2), "Governance")
    assert "not a certification" in md and "**no** — not documented" in md


def test_intended_use_is_shown_or_said_missing(world: World, tmp_path: Path) -> None:
    path = tmp_path / "use.toml"
    path.write_text(INTENDED, encoding="utf-8")
    card = build_card(world.store, "fraud@2", path)
    assert card.intended_use == load_intended_use(path)
    html = _section(card_html(card), "intended-use")
    assert "Flag card transactions for manual fraud review." in html
    assert "<li>Not calibrated for new merchants</li>" in html
    assert html.count("not documented") == 1  # ethical_considerations
    md = _md_section(card_markdown(card), "Intended use and limits")
    assert "- Automatic blocking without human review" in md
    assert "**Ethical considerations:** *not documented*" in md
    bare = card_markdown(build_card(world.store, "fraud@2"))
    assert "**Not documented.** No intended-use file was given" in bare


@pytest.mark.parametrize(
    ("body", "match"),
    [
        ('[intended_use]\npurpose = "x"\nmisuse = "y"\n', "unknown key 'intended_use.misuse'"),
        ('[intended_use]\npurpose = "x"\nlimitations = "one"\n', "'intended_use.limitations'"),
        ("[intended_use]\npurpose = 3\n", "'intended_use.purpose' must be a non-empty string"),
        ('[intended_use]\nusers = "x"\n', "'intended_use.purpose' is required"),
        ('purpose = "x"\n', "unknown key 'purpose'"),
        ("[intended_use\n", "not valid TOML"),
    ],
)
def test_intended_use_file_errors_name_file_and_key(
    world: World, tmp_path: Path, body: str, match: str
) -> None:
    path = tmp_path / "use.toml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(InputError, match=match) as caught:
        build_card(world.store, "fraud@2", path)
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_missing_intended_use_file_is_an_input_error(world: World, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such intended-use file") as caught:
        build_card(world.store, "fraud@2", tmp_path / "nope.toml")
    assert "nope.toml" in str(caught.value)


def test_user_text_is_escaped(card2: ModelCard) -> None:
    html = card_html(card2)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in html
    assert "<script" not in html and "<b>EU</b>" not in html and "&lt;b&gt;EU&lt;/b&gt;" in html
    md = card_markdown(card2)
    assert "<script" not in md and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; friends" in md


def test_unknown_version_or_model_is_an_input_error(world: World) -> None:
    with pytest.raises(InputError, match="unknown version 'fraud@9'"):
        build_card(world.store, "fraud@9")
    with pytest.raises(InputError, match="unknown model 'nosuch'"):
        build_card(world.store, "nosuch")


def test_a_rolled_back_version_is_withdrawn(tmp_path: Path, digits_scan: ScanResult) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}", artifacts=tmp_path / "a")
    try:
        for i in (1, 2):
            register(store, "loan", _weights(tmp_path, i), actor="ana")
            record_scan(store, f"loan@{i}", judged(digits_scan, True), actor="ci")
            promote(store, f"loan@{i}", actor="ana")
        rollback(store, "loan", actor="ops", reason="drift alarm")
        card = build_card(store, "loan@2")
    finally:
        store.engine.dispose()
    assert card.version.withdrawn_at is not None and card.production == "loan@1"
    assert card.promotions[-1].action == "rollback" and card.promotions[-1].reason == "drift alarm"
    html = card_html(card)
    assert "Withdrawn." in html[: html.index('id="summary"')] and "withdrawn</span>" in html
    assert "rolled back" in _section(html, "promotions")
    row = next(g for g in card.governance if g.activity.startswith("Rollback"))
    assert row.present and "1 rollback(s)" in row.evidence


def test_cli_card_writes_html_and_markdown(world: World, tmp_path: Path) -> None:
    from redline.cli.card import card

    assert card("fraud@2", tmp_path / "card.html", world.url) == 0
    assert card("fraud@2", tmp_path / "card.md", world.url) == 0
    html = (tmp_path / "card.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and "fraud<span" in html
    assert (tmp_path / "card.md").read_text(encoding="utf-8").startswith("# Model card: fraud@2")
    with pytest.raises(InputError, match=r"use a \.html or \.md file name"):
        card("fraud@2", tmp_path / "card.pdf", world.url)
    with pytest.raises(InputError, match="not a file path in an existing folder"):
        card("fraud@2", tmp_path / "missing" / "card.md", world.url)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.html", "card.md"]


def test_cli_card_module_imports_nothing_heavy() -> None:
    code = "import redline.cli.card, sys; print(sorted({'torch', 'sqlalchemy'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


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


def _chrome(page: Path, profile: Path, width: int, extra: str) -> str:
    args = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},4200",
            extra, page.as_uri()]  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


BACKGROUND = (245, 247, 250)


@pytest.mark.browser
def test_card_renders_in_chromium(world: World, tmp_path: Path) -> None:
    """The page parses with every section, paints pass/fail colours, and nothing spills
    past the page on a desktop or a phone-sized window."""
    use = tmp_path / "use.toml"
    use.write_text(INTENDED, encoding="utf-8")
    page = tmp_path / "card.html"
    page.write_text(card_html(build_card(world.store, "fraud@2", use)), encoding="utf-8")
    dom = _chrome(page, tmp_path / "profile", 1280, "--dump-dom")
    for anchor in (
        "summary",
        "identity",
        "intended-use",
        "lineage",
        "evaluation",
        "checks",
        "policy",
        "backdoor",
        "incidents",
        "promotions",
        "governance",
        "audit",
    ):
        assert f'id="{anchor}"' in dom, anchor
    assert dom.count('class="alert ') == 3 and "FORCED</span>" in dom and "<script" not in dom
    for width in (1280, 520):
        shot = tmp_path / f"card-{width}.png"
        _chrome(page, tmp_path / "profile", width, f"--screenshot={shot}")
        img = Image.open(shot).convert("RGB")
        assert img.size[0] == width and ImageStat.Stat(img.convert("L")).stddev[0] > 15
        colours = img.getcolors(1 << 22) or []
        red = sum(n for n, (r, g, b) in colours if r > 180 and g < 90 and b < 90)
        green = sum(n for n, (r, g, b) in colours if g > 110 and r < 80 and b < 110)
        assert red > 200 and green > 200  # FAIL and PASS badges, tiles and alerts
        margin = img.crop((width - 8, 0, width, img.size[1])).getcolors(1 << 16) or []
        assert {c for _, c in margin} <= {BACKGROUND}, f"content overflows at width {width}"
