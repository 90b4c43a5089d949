"""``redline scan --certify``: randomized-smoothing certificates in the scan result, the
same numbers as the library's CERTIFY, their own report section and policy rule, and
bad settings as one-line exit 2 with nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from tests.conftest import seeded

from redline.cli.main import run
from redline.datasets import load_breast_cancer
from redline.defenses import SmoothedClassifier, certify_dataset
from redline.evaluation import ScanResult
from redline.zoo import mlp, train_classifier

SCAN = ["scan", "--model", "redline.zoo:mlp", "--data", "bundled:breast_cancer:test"]
SCAN += ["--bounds", "-5,5", "--threat", "linf:0.1", "--suite", "fgsm", "--limit", "60"]
SCAN += ["--no-progress", "--no-minimal", "--check-samples", "20", "--seed", "2"]
SPEC = "sigma=0.5,n=200,n0=50,samples=40"


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(seeded(0))
    module = mlp()
    train = load_breast_cancer("train")
    train_classifier(module, train.x, train.y, epochs=30, seed=seeded(0))
    path = tmp_path_factory.mktemp("w") / "mlp.pt"
    torch.save(module.state_dict(), path)
    return path


@pytest.fixture(scope="module")
def scanned(weights: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("scan") / "rep"
    assert run([*SCAN, "--weights", str(weights), "--certify", SPEC, "--out", str(out)]) == 0
    return out


def test_certificates_are_the_librarys_on_the_scanned_samples(scanned: Path, weights: Path) -> None:
    cert = ScanResult.from_json(scanned / "scan.json").certified
    assert cert is not None and cert.sigma == 0.5 and cert.n == 200 and cert.n0 == 50
    module = mlp()
    module.load_state_dict(torch.load(weights, weights_only=True))
    test = load_breast_cancer("test")
    smoothed = SmoothedClassifier(module.eval(), 0.5, bounds=(-5.0, 5.0))
    direct = certify_dataset(smoothed, test.x[:40], test.y[:40], n0=50, n=200, seed=2)
    assert cert.radii == pytest.approx(list(direct.radii))
    assert cert.correct == list(direct.correct) and cert.clean.n == 40
    values = [p.accuracy.value for p in cert.curve]
    assert values == sorted(values, reverse=True) and values[0] == direct.clean_accuracy
    assert 0.3 < cert.clean.value <= 1.0  # a trained model certifies something
    assert "guarantee" in cert.guarantee


def test_the_report_keeps_certificates_apart_from_robust_accuracy(scanned: Path) -> None:
    html = (scanned / "report.html").read_text()
    assert 'id="certified"' in html and "A guarantee, not an estimate." in html
    robust = html[html.index('id="robustness"') : html.index('id="certified"')]
    assert "certified" not in robust.split("</section>")[0].lower()
    md = (scanned / "summary.md").read_text()
    assert "**Certified robustness** (randomized smoothing, σ = 0.5, n = 200" in md
    assert "| L2 radius | certified accuracy | 95% CI (Wilson) |" in md


def test_policy_gates_on_certified_accuracy(scanned: Path, tmp_path: Path) -> None:
    cert = ScanResult.from_json(scanned / "scan.json").certified
    assert cert is not None
    value = cert.at(0.25)
    policy = tmp_path / "redline.toml"
    for threshold, code in ((value - 0.05, 0), (value + 0.05, 1)):
        rule = "[[policy.certified]]\nradius = '1/4'\nmin_accuracy = "
        policy.write_text(f"[policy]\nchecks = 'none'\n{rule}{threshold}\n")
        out = tmp_path / f"rejudged{code}"
        argv = ["report", str(scanned / "scan.json"), "--policy", str(policy)]
        assert run([*argv, "--out", str(out)]) == code
        finding = json.loads((out / "scan.json").read_text())["policy"]["findings"][0]
        assert finding["rule"] == "certified[l2:0.25]" and finding["actual"] == pytest.approx(value)


def test_a_policy_needing_certificates_fails_a_scan_without_them(
    digits_scan: ScanResult,
) -> None:
    from redline.policy import parse_policy

    policy = parse_policy(
        "[policy]\n[[policy.certified]]\nradius = 0.5\nmin_accuracy = 0.1\n", source="p"
    )
    finding = next(f for f in policy.evaluate(digits_scan).findings if f.rule.startswith("cert"))
    assert not finding.passed and "not measured" in finding.message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("sigma=0", "sigma must be in"),
        ("n=100", "--certify needs sigma"),
        ("0.25,steps=3", "unknown setting 'steps'"),
        ("sigma=abc", "sigma='abc' is not a number"),
        ("0.25,alpha=0.7", "alpha must be in"),
        ("0.25,samples=0", "samples and batch must be >= 1"),
    ],
)
def test_bad_certify_settings_exit_2_and_write_nothing(
    weights: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: str, message: str
) -> None:
    out = tmp_path / "rep"
    assert run([*SCAN, "--weights", str(weights), "--certify", spec, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("redline: error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists()
