"""Hand-built scan results for the report tests: an image scan with everything, a tabular one."""

from __future__ import annotations

import math

import numpy as np
import pytest

from redline.results import (
    Accuracy,
    AttackConfig,
    AttackStats,
    CheckResult,
    CleanResult,
    Cost,
    CurvePoint,
    DataInfo,
    Environment,
    EpsResult,
    Example,
    GroupAccuracy,
    Interval,
    MinimalPerturbation,
    PolicyFinding,
    PolicyVerdict,
    Reliability,
    Samples,
    ScanConfig,
    ScanResult,
    TargetInfo,
)

EPS = [2 / 255, 4 / 255, 8 / 255]
N = 359
CLEAN_CORRECT = 350
ROBUST_CORRECT = [291, 172, 38]
MODEL_SHA = "3f" * 32
SUITE = [
    AttackConfig(name="apgd-ce", params={"steps": 100, "restarts": 1}),
    AttackConfig(name="square", params={"queries": 5000, "p_init": 0.8}),
]
DATA_SHA = "a1" * 32


def accuracy(correct: int, n: int) -> Accuracy:
    """An accuracy with its Wilson 95% interval, computed independently of redline."""
    z, p = 1.959963984540054, correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return Accuracy(
        value=p, n=n, correct=correct, ci=Interval(low=centre - half, high=centre + half)
    )


def reliability(seed: int, shift: float) -> Reliability:
    """A 10-bin reliability diagram; ``shift`` lowers accuracy below confidence."""
    rng = np.random.default_rng(seed)
    edges = [i / 10 for i in range(11)]
    conf = [None if i < 2 else (i + 0.5) / 10 for i in range(10)]
    acc = [None if c is None else max(0.0, c - shift + 0.05 * rng.standard_normal()) for c in conf]
    count = [0, 0, 3, 5, 8, 12, 20, 31, 60, 220]
    return Reliability(bin_edges=edges, confidence=conf, accuracy=acc, count=count)


def groups(correct: list[int], n: list[int], names: list[str]) -> list[GroupAccuracy]:
    return [
        GroupAccuracy(name=name, accuracy=accuracy(c, k))
        for name, c, k in zip(names, correct, n, strict=True)
    ]


def per_class(total: int, seed: int) -> list[GroupAccuracy]:
    """Ten digit classes whose correct counts sum to ``total`` out of N."""
    sizes = [36, 37, 35, 36, 36, 37, 36, 35, 35, 36]
    weights = np.random.default_rng(seed).uniform(0.5, 1.5, 10) * np.array(sizes)
    raw = np.floor(weights / weights.sum() * total).astype(int)
    raw[int(np.argmax(weights))] += total - int(raw.sum())
    correct = [min(int(c), s) for c, s in zip(raw, sizes, strict=True)]
    return groups(correct, sizes, [str(i) for i in range(10)])


def eps_result(i: int, eps: float) -> EpsResult:
    robust = ROBUST_CORRECT[i]
    broken = CLEAN_CORRECT - robust
    apgd = round(broken * 0.8)
    stats = [
        AttackStats(attack="apgd-ce", attacked=CLEAN_CORRECT, broken=apgd, forward=35_000,
                    backward=35_000, seconds=4.2 + i),
        AttackStats(attack="square", attacked=CLEAN_CORRECT - apgd, broken=broken - apgd,
                    forward=90_000, backward=0, queries_mean=412.5, seconds=9.8 + i),
    ]  # fmt: skip
    return EpsResult(
        eps=eps,
        robust=accuracy(robust, N),
        attack_success_rate=broken / CLEAN_CORRECT,
        broken_by={"apgd-ce": apgd, "square": broken - apgd},
        ece=0.08 + 0.15 * i,
        reliability=reliability(10 + i, 0.1 + 0.25 * i),
        per_class=per_class(robust, 20 + i),
        per_slice=groups([robust // 2, robust - robust // 2], [180, 179], ["left", "right"]),
        attacks=stats,
    )


def minimal() -> MinimalPerturbation:
    """Minimal L∞ perturbations of the 350 correct samples: 340 found."""
    rng = np.random.default_rng(3)
    dist = np.sort(rng.gamma(4.0, 0.005, 340))
    counts, edges = np.histogram(dist, bins=24)
    grid = np.linspace(0.0, 0.06, 25)
    curve = [
        CurvePoint(eps=float(e), accuracy=float((CLEAN_CORRECT - (dist <= e).sum()) / N))
        for e in grid
    ]
    quantiles = {q: float(np.quantile(dist, float(q[1:]) / 100)) for q in ("p10", "p50", "p90")}
    return MinimalPerturbation(
        attack="fmn", attacked=CLEAN_CORRECT, found=340, quantiles=quantiles, curve=curve,
        histogram_edges=[float(e) for e in edges], histogram_counts=[int(c) for c in counts],
        forward=70_000, backward=70_000, seconds=12.5,
    )  # fmt: skip


def examples(k: int = 5) -> list[Example]:
    """``k`` 1x8x8 digit-like images with sign perturbations inside the 8/255 ball."""
    rng = np.random.default_rng(4)
    out = []
    for j in range(k):
        clean = np.clip(rng.uniform(0, 1, (1, 8, 8)) * (rng.uniform(0, 1, (1, 8, 8)) > 0.5), 0, 1)
        adv = np.clip(clean + EPS[j % 3] * np.sign(rng.standard_normal((1, 8, 8))), 0, 1)
        out.append(
            Example(index=7 * j + 3, eps=EPS[j % 3], attack=("apgd-ce", "square")[j % 2],
                    label=j, clean_pred=j, adv_pred=(j + 3) % 10,
                    distance=float(np.abs(adv - clean).max()),
                    clean=clean.tolist(), adversarial=adv.tolist())
        )  # fmt: skip
    return out


def checks() -> list[CheckResult]:
    """One check of every status, in the order a scan would emit them (not by severity)."""
    return [
        CheckResult(id="eps-monotone", title="Accuracy falls as eps grows", status="PASS",
                    summary="Robust accuracy decreases monotonically over the eps grid.",
                    evidence={"accuracies": [0.81, 0.48, 0.11]}),
        CheckResult(id="blackbox-vs-whitebox", title="Gradient-free attack is not stronger",
                    status="FAIL",
                    summary="Square broke 12 samples that APGD could not: gradients look masked.",
                    evidence={"square_only": 12, "apgd_success": 0.62, "ratio": 0.0342},
                    fix="Evaluate with BPDA/EOT or check for non-differentiable preprocessing."),
        CheckResult(id="attack-convergence", title="Attacks converged", status="WARN",
                    summary="Loss was still rising at the last APGD step on 8% of samples.",
                    evidence={"still_rising": 0.08, "steps": 100},
                    fix="Raise the number of steps (e.g. steps=200) and compare."),
        CheckResult(id="stochastic-model", title="Model is deterministic", status="SKIP",
                    summary="Skipped: the model gives identical logits on repeated calls."),
        CheckResult(id="unbounded-attack", title="Unbounded attack reaches 0%", status="PASS",
                    summary="With eps=1 every sample is broken.", evidence={"accuracy": 0.0}),
    ]  # fmt: skip


def policy() -> PolicyVerdict:
    return PolicyVerdict(
        source="policies/release.yaml", passed=False,
        findings=[
            PolicyFinding(rule="clean_accuracy", passed=True, message="clean accuracy 97.5% >= 90%",
                          actual=0.975, threshold=0.9),
            PolicyFinding(rule="robust_accuracy@8/255", passed=False,
                          message="robust accuracy 10.6% at 8/255 is below 40%",
                          actual=0.106, threshold=0.4),
            PolicyFinding(rule="no_failed_checks", passed=False,
                          message="1 sanity check failed: blackbox-vs-whitebox",
                          actual=1, threshold=0),
        ],
    )  # fmt: skip


def environment() -> Environment:
    return Environment(redline="0.1.0", python="3.11.2", torch="2.13.0+cpu", numpy="2.3.1",
                       platform="Linux-6.1-x86_64", device="cpu", threads=1)  # fmt: skip


def samples(n: int) -> Samples:
    return Samples(label=[0] * n, clean_pred=[0] * n, min_distance=[None] * n,
                   broken_by=[[None] * 3 for _ in range(n)])  # fmt: skip


@pytest.fixture(scope="session")
def image_result() -> ScanResult:
    """A full image scan: 10 classes, 3 eps, slices, minimal curve, examples, failing policy."""
    return ScanResult(
        created_at="2025-01-15T10:30:00+00:00",
        environment=environment(),
        target=TargetInfo(kind="torch", source="models/digits_cnn.pt", format="torchscript",
                          sha256=MODEL_SHA, bounds=(0.0, 1.0), num_classes=10,
                          num_parameters=23_914),
        data=DataInfo(source="sklearn:digits/test", sha256=DATA_SHA, n_samples=N,
                      input_shape=[1, 8, 8], num_classes=10, groups=["left", "right"]),
        config=ScanConfig(norm="linf", eps=EPS, suite="standard",
                          attacks=SUITE,
                          minimal=AttackConfig(name="fmn", params={"steps": 100}),
                          seed=0, batch_size=128, checks=True, check_samples=64),
        clean=CleanResult(accuracy=accuracy(CLEAN_CORRECT, N), ece=0.031,
                          reliability=reliability(1, 0.0), per_class=per_class(CLEAN_CORRECT, 9),
                          per_slice=groups([176, 174], [180, 179], ["left", "right"])),
        eps=[eps_result(i, e) for i, e in enumerate(EPS)],
        minimal=minimal(),
        checks=checks(),
        examples=examples(5),
        samples=samples(N),
        cost=Cost(forward=470_000, backward=250_000, queries=144_000, seconds=61.3,
                  stages={"clean": 0.4, "attacks": 45.1, "minimal": 12.5, "checks": 3.3}),
        policy=policy(),
    )  # fmt: skip


@pytest.fixture(scope="session")
def tabular_result() -> ScanResult:
    """A bare tabular scan: two classes, no examples, no slices, no minimal, no policy."""
    n, clean = 114, 110
    names = ["malignant", "benign"]
    eps = [
        EpsResult(eps=e, robust=accuracy(c, n), attack_success_rate=(clean - c) / clean,
                  broken_by={"pgd": clean - c}, ece=0.1 * (i + 1),
                  reliability=reliability(30 + i, 0.2 * (i + 1)),
                  per_class=groups([c // 3, c - c // 3], [42, 72], names), per_slice=[],
                  attacks=[AttackStats(attack="pgd", attacked=clean, broken=clean - c,
                                       forward=4400, backward=4400, seconds=0.3)])
        for i, (e, c) in enumerate([(0.05, 96), (0.1, 71), (0.2, 20)])
    ]  # fmt: skip
    return ScanResult(
        created_at="2025-01-15T11:00:00+00:00",
        environment=environment(),
        target=TargetInfo(kind="callable", bounds=(-3.0, 3.0), num_classes=2),
        data=DataInfo(source="data/cancer.csv", sha256=DATA_SHA, n_samples=n, input_shape=[30],
                      num_classes=2, class_names=names),
        config=ScanConfig(norm="l2", eps=[0.05, 0.1, 0.2], suite="fast",
                          attacks=[AttackConfig(name="pgd", params={"steps": 40})], minimal=None,
                          seed=7, batch_size=256, checks=True, check_samples=32),
        clean=CleanResult(accuracy=accuracy(clean, n), ece=0.04, reliability=reliability(2, 0.0),
                          per_class=groups([40, 70], [42, 72], names), per_slice=[]),
        eps=eps,
        checks=[CheckResult(id="eps-monotone", title="Accuracy falls as eps grows",
                            status="PASS", summary="Monotone.")],
        examples=[],
        samples=samples(n),
        cost=Cost(forward=13_200, backward=13_200, queries=0, seconds=1.2,
                  stages={"clean": 0.1, "attacks": 1.1}),
    )  # fmt: skip
