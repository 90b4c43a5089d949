"""The scan's progress bar: the running stage's label, a total known up front, honest work."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import torch

from redline import TorchTarget
from redline.attacks import Attack
from redline.attacks._registry import attack_factory
from redline.evaluation import _progress, scan
from redline.evaluation._budget import attack_work, work_done
from redline.evaluation._checks_base import CHECK_IDS
from redline.evaluation._progress import Progress, View
from redline.evaluation.checks import CHECKS

if TYPE_CHECKING:
    from tests.conftest import Trained

CHECK_OF = {check.__name__: cid for check, cid in zip(CHECKS, CHECK_IDS, strict=True)}


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_ledger_counts_work_caps_a_stage_and_adds_its_unspent_budget() -> None:
    clock, work = _Clock(), [0]
    bar = Progress(False, "scan", lambda: work[0], clock=clock)
    bar.enabled = True  # the ledger without a display
    bar.plan("a", 100)
    bar.plan("b", 50)
    assert bar.view().total == 150 and bar.view().completed == 0
    with bar:
        bar.start("stage a", "a")
        work[0], clock.now = 40, 2.0
        v = bar.view()
        assert (v.label, v.completed, v.total) == ("stage a", 40, 150)
        assert v.remaining == pytest.approx(110 * 2.0 / 40)
        work[0] = 500  # more than its budget: the bar waits at the budget
        assert bar.view().completed == 100
        bar.start("stage b", "b", budget=20)  # a known budget replaces the plan
        assert bar.view().total == 500 + 20 and bar.view().completed == 500
        work[0] = 505
    v = bar.view()
    assert v.completed == v.total == 520  # b broke early: its 15 unspent count as done
    assert [(s.label, s.budget, s.spent) for s in bar.history] == [
        ("stage a", 100, 500),
        ("stage b", 20, 5),
    ]


def test_disabled_bar_shows_nothing_and_reads_no_counter(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_: object) -> Any:
        raise AssertionError("called")

    monkeypatch.setattr(_progress, "make_display", boom)
    with Progress(False, "scan", boom) as bar:
        bar.plan("a", 10)
        bar.start("a", "a")
        bar.end()
    assert bar.history == [] and bar.view().total == 0


@pytest.mark.parametrize(
    ("name", "params", "exact"),
    [
        ("apgd-ce", {"steps": 12}, False),
        ("apgd-t", {"steps": 8, "n_target_classes": 3}, False),
        ("square", {"queries": 60}, False),
        ("pgd", {"steps": 7, "restarts": 2}, False),
        ("cw", {"steps": 10, "binary_search_steps": 2}, False),
        ("fgsm", {}, True),
        ("fmn", {"steps": 10}, True),
        ("hop-skip-jump", {"queries": 80, "init_evals": 10}, False),
    ],
)
def test_attack_budget_bounds_the_passes_spent(
    digits_cnn: Trained, name: str, params: dict[str, Any], exact: bool
) -> None:
    target = TorchTarget(digits_cnn.module, eot=2)
    x, y = digits_cnn.x[:24], digits_cnn.y[:24]
    keep = target.predict(x) == y
    x, y = x[keep], y[keep]
    norm = "l2" if name == "cw" else "linf"
    attack = attack_factory(name, **params)(norm=norm, eps=0.15 if norm == "linf" else 1.0)
    before = work_done(target)
    attack(target, x, y, assume_correct=True)
    spent, budget = work_done(target) - before, attack_work(attack, len(y), 10, eot=2)
    assert spent == budget if exact else 0 < spent <= budget


class _Recorder:
    """A display that keeps every view it is shown; the target asks for one per forward."""

    def __init__(self) -> None:
        self.source: Callable[[], View] | None = None
        self.views: list[View] = []
        self.seen: list[tuple[str, str]] = []  # (label shown, what really ran)

    def __call__(self, source: Callable[[], View]) -> _Recorder:
        self.source = source
        return self

    def start(self) -> None:
        assert self.source is not None
        self.views.append(self.source())

    def stop(self) -> None:
        self.start()


def _running() -> str | None:
    """The stage the call stack is in: a sanity check, else the innermost attack."""
    frame, attack, batch = sys._getframe(1), None, ""
    while frame is not None:
        if frame.f_code.co_name in CHECK_OF:
            return f"sanity checks: {CHECK_OF[frame.f_code.co_name]}"
        me = frame.f_locals.get("self")
        if attack is None and isinstance(me, Attack):
            attack = me
        if frame.f_code.co_name == "_scan_batch" and not batch:
            batch = f" [batch {frame.f_locals['b'] + 1}/3]"
        frame = frame.f_back
    if attack is None:
        return None  # clean accuracy, re-verification: between stages
    if attack.name == "fmn":
        return "minimal perturbations" + batch
    return f"attacks eps={attack.eps:.4g} ({attack.name})" + batch


class _Watched(TorchTarget):
    def __init__(self, module: torch.nn.Module, recorder: _Recorder) -> None:
        super().__init__(module)
        self.recorder = recorder

    def _forward(self, x: torch.Tensor) -> torch.Tensor:
        running, source = _running(), self.recorder.source
        if running is not None and source is not None:
            view = source()
            self.recorder.views.append(view)
            self.recorder.seen.append((view.label, running))
        return super()._forward(x)


def _scan(target: TorchTarget, digits_cnn: Trained, progress: bool) -> Any:
    return scan(
        target,
        digits_cnn.x[:40],
        digits_cnn.y[:40],
        threat="linf:0.05,0.15",
        suite="quick",
        batch_size=16,
        check_samples=20,
        progress=progress,
    )


@pytest.fixture(scope="module")
def watched(digits_cnn: Trained) -> tuple[_Recorder, Any]:
    recorder = _Recorder()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_progress, "make_display", recorder)
        result = _scan(_Watched(digits_cnn.module, recorder), digits_cnn, True)
    return recorder, result


def test_label_is_the_running_stage(watched: tuple[_Recorder, Any]) -> None:
    recorder, _ = watched
    wrong = [(shown, running) for shown, running in recorder.seen if shown != running]
    assert not wrong, wrong[:5]
    ran = {running.split(" [")[0] for _, running in recorder.seen}
    expected = {"minimal perturbations", "attacks eps=0.05 (apgd-ce)", "attacks eps=0.15 (apgd-t)"}
    expected |= {f"sanity checks: {cid}" for cid in ("gradients", "convergence", "eps-sweep")}
    assert expected <= ran and any("[batch 3/3]" in running for _, running in recorder.seen)


def test_no_stage_spends_more_than_its_budget(watched: tuple[_Recorder, Any]) -> None:
    source = watched[0].source
    assert source is not None
    history = source.__self__.history  # the scan's Progress
    assert len(history) > 3 * 7  # per batch: minimal + 2 eps x 3 attacks; then 8 checks
    over = [s for s in history if s.spent > s.budget]
    assert not over, over


def test_total_is_known_up_front_and_work_is_monotonic(watched: tuple[_Recorder, Any]) -> None:
    views = watched[0].views
    assert views[0].total > 0 and views[0].completed == 0  # before the first stage
    assert all(a.completed <= b.completed for a, b in itertools.pairwise(views))
    assert all(v.completed <= v.total for v in views)
    assert views[-1].completed == views[-1].total
    assert all(v.remaining is not None for v in views[2:])


def _stable(value: Any) -> Any:
    """A result without its clocks."""
    if isinstance(value, dict):
        return {k: _stable(v) for k, v in value.items() if k not in ("seconds", "created_at")}
    if isinstance(value, list):
        return [_stable(v) for v in value]
    return value


def test_progress_does_not_change_the_result(digits_cnn: Trained) -> None:
    quiet = _scan(TorchTarget(digits_cnn.module), digits_cnn, False).model_dump()
    shown = _scan(TorchTarget(digits_cnn.module), digits_cnn, True).model_dump()
    for r in (quiet, shown):
        r["cost"].pop("stages")
    assert _stable(shown) == _stable(quiet)
    assert shown["eps"] and shown["checks"]
