"""``redline monitor`` end to end on the demo's data: profile the training set with the
model, find no drift in the test split and the injected contrast shift in a corrupted
copy (exit 1), open one incident per cause and add evidence to it on the next alarm,
run the retraining command and the webhook; every bad input exits 2 with one line."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import pytest
import torch

from redline.cli.main import run

if TYPE_CHECKING:
    from tests.conftest import Trained

MODEL = ["--model", "redline.zoo:small_cnn"]


@pytest.fixture(scope="module")
def profiles(digits_cnn: Trained, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from redline.datasets import corrupt, load_digits

    root = tmp_path_factory.mktemp("monitor")
    weights = root / "cnn.pt"
    torch.save(digits_cnn.module.state_dict(), weights)
    test = load_digits("test")
    np.savez(root / "shifted.npz", x=corrupt(test.x, "contrast", 2), y=test.y)
    out = {"weights": weights, "root": root}
    for name, data in (("ref", "bundled:digits:train"), ("test", "bundled:digits:test"),
                       ("shifted", str(root / "shifted.npz"))):  # fmt: skip
        out[name] = root / f"{name}.profile"
        args = ["monitor", "profile", "--data", data, *MODEL, "--weights", str(weights)]
        assert run([*args, "--out", str(out[name])]) == 0
    return out


def _drift(p: dict[str, Path], current: str, out: Path, *extra: str) -> int:
    args = ["monitor", "drift", "--reference", str(p["ref"]), "--current", str(p[current])]
    return run([*args, "--out", str(out), "--bootstrap", "50", *extra])


def test_no_drift_in_the_test_split_and_the_injected_shift_found(
    profiles: dict[str, Path], tmp_path: Path
) -> None:
    assert _drift(profiles, "test", tmp_path / "same") == 0
    same = json.loads((tmp_path / "same" / "drift.json").read_text())
    assert not any(f["status"] == "drift" for f in same["findings"])
    assert _drift(profiles, "shifted", tmp_path / "shift") == 1
    found = json.loads((tmp_path / "shift" / "drift.json").read_text())
    kinds = {f["kind"] for f in found["findings"] if f["status"] == "drift"}
    assert {"numeric", "prediction", "confidence", "multivariate"} <= kinds
    perf = found["performance"]
    assert perf is not None and "realised" in perf["note"]
    assert (tmp_path / "shift" / "summary.md").read_text().count("| x") > 10


class _Hook(BaseHTTPRequestHandler):
    bodies: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/alarm"
    finally:
        server.shutdown()
        server.server_close()


def test_an_alarm_opens_one_incident_per_cause_and_calls_out(
    profiles: dict[str, Path], tmp_path: Path, hook: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from redline.registry import list_incidents, open_store

    store = f"sqlite:///{tmp_path / 'registry.db'}"
    monkeypatch.setenv("REDLINE_STORE", store)
    monkeypatch.setenv("REDLINE_ACTOR", "ci")
    add = ["registry", "add", "digits", "--weights", str(profiles["weights"]), *MODEL]
    assert run(add) == 0
    payload = tmp_path / "alarm.json"
    extra = ["--incident", "digits", "--on-alarm", f"cat > {payload}", "--webhook", hook,
             "--no-multivariate"]  # fmt: skip
    assert _drift(profiles, "shifted", tmp_path / "a", *extra) == 1
    first = list_incidents(open_store(store, mode="read"), "digits")
    alarms = json.loads(payload.read_text())["alarms"]
    assert len(first) == len(alarms) > 10  # one incident per cause
    assert _drift(profiles, "shifted", tmp_path / "b", *extra) == 1
    again = list_incidents(open_store(store, mode="read"), "digits")
    assert len(again) == len(first)  # the same causes: evidence added, no new incident
    assert all(len(i.timeline) == 2 and i.timeline[1].action == "note" for i in again)
    assert len(_Hook.bodies) == 2 and json.loads(_Hook.bodies[0])["kind"] == "redline.drift.alarm"
    assert "webhook 127.0.0.1" in capsys.readouterr().err


@pytest.mark.browser
def test_the_drift_report_in_a_real_browser(profiles: dict[str, Path], tmp_path: Path) -> None:
    from tests.reports.test_report_browser import FLAGS, _chromium, _run

    assert _drift(profiles, "shifted", tmp_path / "r") == 1
    chromium = _chromium()
    base = [chromium, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,3000"]
    dom = _run([*base, "--dump-dom", (tmp_path / "r" / "report.html").as_uri()])
    assert 'id="alarms"' in dom and "drift alarms" in dom and "<svg" in dom
    assert dom.count('class="drift"') > 10 and "Benjamini" in dom


def test_every_bad_input_exits_2_with_one_line(
    profiles: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.profile"
    assert run(["monitor", "profile", "--data", "bundled:breast_cancer", "--out", str(other)]) == 0
    bad_policy = tmp_path / "p.toml"
    bad_policy.write_text("[policy.drift]\nwassersteen = 0.2\n")
    corrupt = tmp_path / "corrupt.profile"
    corrupt.write_text(profiles["ref"].read_text()[:-200])
    empty = tmp_path / "empty.csv"
    empty.write_text("a,b\n")
    ref, cur = str(profiles["ref"]), str(profiles["test"])
    cases = {
        "columns differ": ["monitor", "drift", "--reference", ref, "--current", str(other)],
        "corrupt": ["monitor", "drift", "--reference", ref, "--current", str(corrupt)],
        "unknown key": [
            "monitor",
            "drift",
            "--reference",
            ref,
            "--current",
            cur,
            "--policy",
            str(bad_policy),
        ],
        "no rows": [
            "monitor",
            "profile",
            "--data",
            str(empty),
            "--out",
            str(tmp_path / "e.profile"),
        ],
        "http(s) URL": [
            "monitor",
            "drift",
            "--reference",
            ref,
            "--current",
            cur,
            "--webhook",
            "file:///x",
        ],
        "at least two": ["monitor", "merge", ref, "--out", str(tmp_path / "m.profile")],
    }
    for message, args in cases.items():
        out = tmp_path / f"out-{len(message)}"
        if args[1] == "drift":
            args = [*args, "--out", str(out)]
        capsys.readouterr()
        assert run(args) == 2, message
        err = capsys.readouterr().err.strip()
        assert message in err and len(err.splitlines()) == 1, (message, err)
        assert not out.exists()
