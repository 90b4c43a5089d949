"""load_model: factories, state dicts, TorchScript, torch.export, pickles, bad input."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from redline import TorchTarget
from redline.errors import InputError
from redline.targets._loading import LoadedModel, build_module, load_model
from redline.zoo import mlp, small_cnn

PICKLE_HINT = "loading it runs arbitrary code — pass --allow-pickle only if you trust the file"
JIT_DEPRECATED = "ignore:`torch.jit:DeprecationWarning"


def _fails(model: str | None, weights: str | Path | None, *parts: str, **kwargs: Any) -> str:
    with pytest.raises(InputError) as info:
        load_model(model, weights, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    for part in parts:
        assert part in message, message
    return message


def _trained_like_mlp() -> nn.Module:
    torch.manual_seed(1)
    return mlp()


def _same_outputs(a: nn.Module, b: nn.Module, shape: tuple[int, ...] = (3, 30)) -> None:
    x = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x))


# --- factories -------------------------------------------------------------------------


def test_factory_only() -> None:
    loaded = load_model("redline.zoo:small_cnn", None)
    assert loaded.format == "factory" and loaded.sha256 is None
    assert loaded.source == "redline.zoo:small_cnn"
    assert isinstance(loaded.module, nn.Sequential)
    with pytest.raises(dataclasses.FrozenInstanceError):
        loaded.format = "pickle"  # type: ignore[misc]


def test_factory_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "net.py"
    path.write_text(
        "from torch import nn\n"
        "class Box:\n"
        "    @staticmethod\n"
        "    def make():\n"
        "        return nn.Linear(3, 2)\n"
        "def bad():\n"
        "    return 42\n"
        "def boom():\n"
        "    raise ValueError('no\\nway')\n"
    )
    module = build_module(f"{path}:Box.make")
    assert isinstance(module, nn.Linear) and module.in_features == 3
    _fails(f"{path}:bad", None, f"{path}:bad: bad() returned int, not a torch.nn.Module")
    _fails(f"{path}:boom", None, "calling boom() failed: ValueError: no way")


def test_factory_file_that_does_not_import(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_text("def f(:\n")
    _fails(f"{path}:f", None, f"{path}:f: importing", "failed: SyntaxError")


@pytest.mark.parametrize(
    ("spec", "part"),
    [
        ("redline.zoo", "expected 'package.module:factory', 'path/to/file.py:factory' or 'zoo:"),
        ("zoo:nope", "unknown zoo model 'nope' (known: zoo:digits_cnn, zoo:mlp, zoo:small_cnn)"),
        ("redline.zoo:", "expected 'package.module:factory'"),
        ("redline.zoo:nope", "'redline.zoo' has no attribute 'nope'"),
        ("redline.zoo:__all__", "'__all__' is a list, not a callable factory"),
        ("no_such_pkg.models:f", "cannot import 'no_such_pkg.models'"),
        ("missing/net.py:f", "no such file 'missing/net.py'"),
        ("redline.zoo:accuracy", "calling accuracy() failed: TypeError"),
    ],
)
def test_bad_factories(spec: str, part: str) -> None:
    message = _fails(spec, None, part)
    assert message.startswith(f"{spec}: ")


def test_nothing_to_load() -> None:
    _fails(None, None, "no model given")


# --- state dicts and checkpoints -------------------------------------------------------


def test_factory_with_state_dict(tmp_path: Path) -> None:
    source = _trained_like_mlp()
    path = tmp_path / "weights.pt"
    torch.save(source.state_dict(), path)
    loaded = load_model("redline.zoo:mlp", path)
    assert loaded.format == "state_dict"
    assert loaded.source == f"redline.zoo:mlp + {path}"
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    _same_outputs(loaded.module, source)


@pytest.mark.parametrize("key", ["state_dict", "model_state_dict", "model"])
def test_checkpoint_dicts(tmp_path: Path, key: str) -> None:
    source = _trained_like_mlp()
    path = tmp_path / "ckpt.pth"
    torch.save({key: source.state_dict(), "epoch": 7, "optimizer": {"lr": 0.1}}, path)
    loaded = load_model("redline.zoo:mlp", path)
    assert loaded.format == "state_dict"
    _same_outputs(loaded.module, source)


def test_data_parallel_prefix_is_stripped(tmp_path: Path) -> None:
    source = _trained_like_mlp()
    path = tmp_path / "dp.pt"
    torch.save({f"module.{k}": v for k, v in source.state_dict().items()}, path)
    _same_outputs(load_model("redline.zoo:mlp", path).module, source)


def test_state_dict_needs_a_factory(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save(mlp().state_dict(), path)
    _fails(None, path, f"{path}: holds only weights (a state dict)", "model factory")


def test_state_dict_mismatch_counts_keys(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save(mlp().state_dict(), path)
    message = _fails("redline.zoo:small_cnn", path, f"{path}: does not fit redline.zoo:small_cnn")
    assert "8 missing keys (0.weight, 0.bias, 2.weight, ...)" in message
    assert "6 unexpected keys (1.weight, 1.bias, 3.weight, ...)" in message


def test_state_dict_shape_mismatch(tmp_path: Path) -> None:
    state = mlp().state_dict()
    state["1.weight"] = torch.zeros(64, 29)
    del state["5.bias"]
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    message = _fails("redline.zoo:mlp", path)
    assert "1 missing key (5.bias)" in message
    assert "1 shape mismatch (1.weight: file (64, 29) vs model (64, 30))" in message
    assert "unexpected" not in message


def test_file_holding_something_else(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save({"epoch": 3, "lr": 0.1}, path)
    _fails("redline.zoo:mlp", path, "holds a dict, which is neither a model, a state dict")


# --- TorchScript and torch.export ------------------------------------------------------


@pytest.mark.filterwarnings(JIT_DEPRECATED)
def test_torchscript(tmp_path: Path) -> None:
    source = small_cnn().eval()
    path = tmp_path / "model.ts"
    torch.jit.save(torch.jit.script(source), str(path))
    loaded = load_model(None, path)
    assert loaded.format == "torchscript" and loaded.source == str(path)
    _same_outputs(loaded.module, source, (2, 1, 8, 8))
    _fails("redline.zoo:small_cnn", path, "is a self-contained torchscript model")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, nn.Module]:
    """A small MLP saved with torch.export, batch size dynamic."""
    source = _trained_like_mlp().eval()
    batch = torch.export.Dim("batch")
    program = torch.export.export(source, (torch.rand(2, 30),), dynamic_shapes=({0: batch},))
    path = tmp_path_factory.mktemp("export") / "model.pt2"
    torch.export.save(program, path)
    return path, source


def test_export_archive(exported: tuple[Path, nn.Module]) -> None:
    path, source = exported
    loaded = load_model(None, path)
    assert loaded.format == "export" and loaded.source == str(path)
    assert loaded.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    _same_outputs(loaded.module, source, (5, 30))
    target = TorchTarget(loaded.module)
    x = torch.rand(4, 30)
    with target.session():
        _, _, grad = target.logits_and_grad(x, lambda logits: logits[:, 0])
    assert grad.shape == x.shape and bool(grad.abs().sum() > 0)
    assert load_model(None, path, allow_pickle=True).format == "export"


def _rewrite(src: Path, dst: Path, edit: Callable[[str, bytes], bytes | None]) -> Path:
    """Copy a zip archive, passing each member through ``edit`` (None drops it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for name in zin.namelist():
            data = edit(name, zin.read(name))
            if data is not None:
                zout.writestr(name, data)
    return dst


def _pickle_a_weight(name: str, data: bytes) -> bytes:
    if not name.endswith("model_weights_config.json"):
        return data
    config = json.loads(data)
    next(iter(config["config"].values()))["use_pickle"] = True
    return json.dumps(config).encode()


def _pickled_sample_inputs(name: str, data: bytes) -> bytes:
    if not name.endswith("sample_inputs/model.pt"):
        return data
    return pickle.dumps(((nn.Linear(1, 1),), {}))


@pytest.mark.parametrize(
    ("edit", "part"),
    [
        (_pickle_a_weight, "stores pickled objects (data/weights/model_weights_config.json)"),
        (_pickled_sample_inputs, "holds a payload that loads only with pickle"),
        (
            lambda n, d: None if n.endswith("archive_format") else d,
            "uses the legacy torch.export layout",
        ),
    ],
)
def test_export_archives_that_would_unpickle(
    exported: tuple[Path, nn.Module],
    tmp_path: Path,
    edit: Callable[[str, bytes], bytes | None],
    part: str,
) -> None:
    path = _rewrite(exported[0], tmp_path / "bad.pt2", edit)
    message = _fails(None, path, f"{path}: {part}")
    assert message.endswith(PICKLE_HINT)


def test_export_archive_with_compiled_code(
    exported: tuple[Path, nn.Module], tmp_path: Path
) -> None:
    path = tmp_path / "aoti.pt2"
    shutil.copyfile(exported[0], path)
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr("model/data/aotinductor/model/model.so", b"\x7fELF")
    _fails(None, path, "holds compiled code (data/aotinductor/model/model.so)", PICKLE_HINT)


def test_pt2_that_is_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "model.pt2"
    path.write_bytes(b"not a zip at all")
    _fails(None, path, f"{path}: uses the legacy torch.export layout")
    _fails(None, path, f"{path}: not a loadable torch.export archive", allow_pickle=True)


# --- pickles ---------------------------------------------------------------------------


def test_pickled_module_needs_allow_pickle(tmp_path: Path) -> None:
    source = _trained_like_mlp()
    path = tmp_path / "model.pt"
    torch.save(source, path)
    message = _fails(None, path)
    assert message == f"{path}: is a pickled object (e.g. a whole nn.Module); {PICKLE_HINT}"
    loaded = load_model(None, path, allow_pickle=True)
    assert loaded.format == "pickle" and loaded.source == str(path)
    _same_outputs(loaded.module, source)
    _fails("redline.zoo:mlp", path, "holds a whole model; pass no model factory", allow_pickle=True)


def test_pickled_checkpoint_with_allow_pickle(tmp_path: Path) -> None:
    source = _trained_like_mlp()
    path = tmp_path / "ckpt.pt"
    torch.save({"state_dict": source.state_dict(), "config": Path("x")}, path)
    _fails("redline.zoo:mlp", path, "is a pickled object")
    loaded = load_model("redline.zoo:mlp", path, allow_pickle=True)
    assert loaded.format == "pickle"
    _same_outputs(loaded.module, source)


@pytest.mark.parametrize("writer", ["legacy", "plain"])
def test_other_pickles_are_recognised(tmp_path: Path, writer: str) -> None:
    path = tmp_path / "model.pkl"
    if writer == "legacy":
        torch.save(mlp(), path, _use_new_zipfile_serialization=False)
    else:
        path.write_bytes(pickle.dumps(mlp(), protocol=4))
    _fails(None, path, f"{path}: is a pickled object", PICKLE_HINT)


def test_weights_only_unless_allowed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "model.pt"
    torch.save(mlp(), path)
    calls: list[Any] = []
    real_load = torch.load

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs.get("weights_only"))
        return real_load(*args, **kwargs)

    monkeypatch.setattr(torch, "load", spy)
    _fails(None, path, "is a pickled object")
    assert calls == [True]
    load_model(None, path, allow_pickle=True)
    assert calls == [True, True, False]


# --- unreadable files, paths, devices --------------------------------------------------


@pytest.mark.parametrize("content", ["random", "truncated", "empty", "text"])
def test_not_a_torch_file(tmp_path: Path, content: str) -> None:
    good = tmp_path / "good.pt"
    torch.save(mlp().state_dict(), good)
    raw = {
        "random": np.random.default_rng(0).bytes(1000),
        "truncated": good.read_bytes()[: good.stat().st_size // 2],
        "empty": b"",
        "text": b"hello world\n",
    }[content]
    path = tmp_path / "bad.pt"
    path.write_bytes(raw)
    _fails("redline.zoo:mlp", path, f"{path}: not a readable PyTorch file")
    _fails("redline.zoo:mlp", path, "not a readable PyTorch file", allow_pickle=True)


def test_missing_weights(tmp_path: Path) -> None:
    _fails("redline.zoo:mlp", tmp_path / "nope.pt", f"{tmp_path / 'nope.pt'}: no such file")
    _fails("redline.zoo:mlp", tmp_path, f"{tmp_path}: is a directory, not a weights file")


def test_devices() -> None:
    loaded = load_model("redline.zoo:mlp", None, device="cpu")
    assert next(loaded.module.parameters()).device.type == "cpu"
    _fails("redline.zoo:mlp", None, "device 'gpu9': not a valid torch device", device="gpu9")
    if not torch.cuda.is_available():
        _fails("redline.zoo:mlp", None, "CUDA is not available", device="cuda")


def test_loaded_model_is_a_plain_record() -> None:
    record = LoadedModel(nn.Linear(1, 1), "src", "factory", None)
    assert record.source == "src" and record.sha256 is None
